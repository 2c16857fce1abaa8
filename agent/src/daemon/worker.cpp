// SPDX-License-Identifier: GPL-2.0
#include "worker.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uapi/linux/handshake.h>

#include "thread_priority.hpp"

namespace tlsup {

struct Worker::Job {
	uint64_t id = 0;
	UniqueFd fd;
	AcceptReply request;
	RequestKeyring keyring; // released with the job, after DONE
	std::unique_ptr<TlsSession> session;
	Clock::time_point started;
	EventLoop::TimerId deadline = 0;
	EventLoop::TimerId dns_timer = 0;
	ReverseResolver::Ticket dns;        // a queued lookup goes with the job
	std::optional<HandedSocket> socket; // once inspected
	bool watched = false;               // the socket is in this loop's epoll set
	bool reads_only = false;            // watched without EPOLLOUT (continue_early())
	std::string label;
	std::string counted_peer; // the PeerLimit share this job holds, if any
};

namespace {

const char *auth_name(uint32_t mode) {
	switch (mode) {
	case HANDSHAKE_AUTH_UNAUTH:
		return "anon";
	case HANDSHAKE_AUTH_PSK:
		return "psk";
	case HANDSHAKE_AUTH_X509:
		return "x509";
	default:
		return "auth?";
	}
}

} // namespace

std::string describe_request(const AcceptReply &req) {
	std::string s = "fd " + std::to_string(req.sockfd) + " (";
	s += req.message_type == HANDSHAKE_MSG_TYPE_SERVERHELLO   ? "server"
	     : req.message_type == HANDSHAKE_MSG_TYPE_CLIENTHELLO ? "client"
	                                                          : "type?";
	s += std::string(" ") + auth_name(req.auth_mode);
	if (req.peername)
		s += " '" + *req.peername + "'";
	return s + ")";
}

void report_done(WorkerShared &shared, const std::string &id, const std::string &label,
                 const AcceptReply &req, const HandedSocket *socket, int status,
                 const std::string &reason, size_t remote_ids, Clock::time_point started,
                 bool quiet) {
	auto elapsed =
	        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
	LogFields fields;
	fields.request = id;
	fields.status = status;
	if (socket)
		fields.peer = peer_text(socket->peer);
	fields.auth = auth_name(req.auth_mode);
	fields.latency_us = static_cast<uint64_t>(elapsed.count());
	if (status == 0)
		LOG_EVENT(shared.log, kLogInfo, fields,
		          "%s: handshake done, %s, %zu peer id(s), %lld us", label.c_str(),
		          reason.c_str(), remote_ids, static_cast<long long>(elapsed.count()));
	else
		LOG_EVENT(shared.log, quiet ? kLogDebug : kLogErr, fields,
		          "%s: handshake failed: %s: %s", label.c_str(), status_name(status),
		          reason.c_str());
	shared.stats.record_done(status, elapsed);
}

SessionSetup session_setup_for(const AcceptReply &req) {
	SessionSetup s;
	s.fd = req.sockfd;
	s.role = req.message_type == HANDSHAKE_MSG_TYPE_SERVERHELLO ? Role::Server : Role::Client;
	s.auth = req.auth_mode == HANDSHAKE_AUTH_PSK    ? Auth::Psk
	         : req.auth_mode == HANDSHAKE_AUTH_X509 ? Auth::X509
	                                                : Auth::Anonymous;
	s.peername = req.peername;
	for (int32_t id : req.peer_identities)
		if (id > 0) // 0 is TLS_NO_PEERID
			s.peer_identities.push_back(id);
	for (const auto &c : req.certificates)
		s.certificates.push_back({c.cert, c.privkey});
	s.keyring = req.keyring;
	return s;
}

Worker::Worker(unsigned index, WorkerShared &shared, std::unique_ptr<HandshakeChannel> channel)
    : index_(index), shared_(shared), channel_(std::move(channel)) {}

namespace {

// A handed-over socket is watched edge-triggered for both directions: the
// engine always runs until its socket would block, so no edge is missed,
// and a job never has to change what its socket is watched for.
constexpr uint32_t kSocketEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
// A socket whose first flight the acceptor sent (start_early()): a
// writable socket is no news, and would wake the worker at once. EPOLLOUT
// is added only if a later flight has to wait for room (advance()).
constexpr uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP | EPOLLET;

// A client without PEERNAME may match the server certificate by a
// name reverse DNS gives for the peer's address, if the administrator
// turned that on. The names are looked up before the handshake, so the
// certificate is checked in full before the client sends its own.
bool wants_reverse_dns(const WorkerSettings &settings, const AcceptReply &req,
                       const std::optional<HandedSocket> &socket) {
	if (!settings.reverse_dns.load() || req.message_type != HANDSHAKE_MSG_TYPE_CLIENTHELLO ||
	    req.peername)
		return false;
	return socket && (socket->peer.ss_family == AF_INET || socket->peer.ss_family == AF_INET6);
}

SessionSetup handshake_setup(WorkerShared &shared, const Priorities &priorities,
                             const AcceptReply &req, const std::optional<HandedSocket> &socket,
                             const RequestKeyring &keyring, std::optional<ReverseNames> names) {
	SessionSetup setup = session_setup_for(req);
	setup.socket = socket;
	setup.keyring = keyring.keyring();
	setup.credentials = shared.credentials.snapshot();
	auto rings = shared.keyrings.snapshot();
	setup.keyrings = rings->keyrings;
	setup.psk_keyrings = rings->psk_keyrings;
	setup.peer_keys = &shared.peer_keys;
	setup.priorities = &priorities;
	setup.reverse_names = std::move(names);
	return setup;
}

} // namespace

bool start_early(WorkerShared &shared, const Priorities &priorities, AcceptedRequest &request) {
	const AcceptReply &req = request.decoded.request;
	// The acceptor asked the socket (admit()) only of a request that
	// passed validate_request(); a socket it refused goes to the worker.
	if (request.decoded.error || req.sockfd < 0 || !request.socket || !*request.socket ||
	    req.message_type != HANDSHAKE_MSG_TYPE_CLIENTHELLO)
		return false;
	std::optional<HandedSocket> socket = request.socket->value();
	if (wants_reverse_dns(shared.settings, req, socket))
		return false;
	shared.stats.record_early_step();
	SessionSetup setup =
	        handshake_setup(shared, priorities, req, socket, request.keyring, std::nullopt);
	// A reload may replace the credentials while this runs. The request
	// keeps its own reference, so the last one is never let go here, on the
	// real-time thread, when the session cannot be set up: freeing
	// credentials frees every certificate and may close a PKCS#11 session.
	request.credentials = setup.credentials;
	auto session = TlsSession::create(std::move(setup), shared.log);
	if (!session) {
		request.early_failure = session.error();
		return true;
	}
	auto r = session.value()->step();
	// A failed session goes with the request too: the worker ends it (and
	// gives the consumer back its Nagle setting) before DONE, as its own.
	request.session = std::move(session).value();
	if (!r)
		request.early_failure = r.error();
	else
		// Output left over (or, were it possible, done): the worker
		// must step without waiting for the peer; the writable socket
		// wakes it.
		request.wants_write = r.value() != TlsSession::Progress::WantRead;
	return true;
}

Result<std::unique_ptr<Worker>> Worker::create(unsigned index, WorkerShared &shared,
                                               std::unique_ptr<HandshakeChannel> channel) {
	auto w = std::unique_ptr<Worker>(new Worker(index, shared, std::move(channel)));
	w->loop_ = TRY(EventLoop::create());
	w->priorities_ = TRY(Priorities::create());
	Worker *self = w.get();
	w->loop_->on_unknown_fd([self](int fd, uint32_t) { self->take_handed(fd, true); });
	if (int fd = w->channel_->answer_fd(); fd >= 0)
		TRY(w->loop_->watch(fd, EPOLLIN,
		                    [self](uint32_t) { self->collect_done_refusals(); }));
	return w;
}

Worker::~Worker() {
	stop();
}

void Worker::start(unsigned nice) {
	thread_ = std::thread([this, nice] {
		// "tlsupd-w0": top -H and the benchmark tell the threads apart.
		std::string name = "tlsupd-w" + std::to_string(index_);
		pthread_setname_np(pthread_self(), name.c_str());
		// Only the acceptor keeps the real-time policy the unit gives.
		if (auto r = leave_realtime(); !r)
			LOG_WARN(shared_.log, "worker %u: %s", index_, r.error().reason.c_str());
		if (nice > 0) {
			// This thread only (Linux: PRIO_PROCESS with a thread id).
			id_t tid = static_cast<id_t>(gettid());
			errno = 0;
			int now = getpriority(PRIO_PROCESS, tid);
			if ((now == -1 && errno) ||
			    setpriority(PRIO_PROCESS, tid, now + static_cast<int>(nice)) < 0)
				LOG_WARN(shared_.log,
				         "worker %u: cannot lower its priority by %u ([agent] "
				         "worker_nice): %s; the acceptor gets no precedence",
				         index_, nice, strerror(errno));
		}
		auto r = loop_->run();
		if (!r)
			LOG_ERR(shared_.log, "worker %u: event loop failed: %s", index_,
			        r.error().reason.c_str());
	});
}

void Worker::stop() {
	if (thread_.joinable()) {
		loop_->stop();
		thread_.join();
	}
	// The loop is gone: complete what is left, handed over or begun, so no
	// consumer waits for a DONE that would never come.
	std::vector<std::pair<AcceptedRequest, bool>> handed;
	{
		std::lock_guard lock(inbox_mu_);
		handed.swap(inbox_);
	}
	for (auto &[request, watched] : handed)
		start_job(std::move(request), watched);
	std::vector<uint64_t> ids;
	for (auto &[id, job] : jobs_)
		ids.push_back(id);
	for (uint64_t id : ids)
		complete(id, ETIMEDOUT, "agent shutting down");
}

void Worker::hand_over(AcceptedRequest request) {
	int fd = request.decoded.request.sockfd;
	bool pollable = fd >= 0 && !request.decoded.error;
	// Begun by the acceptor: wake for the peer's answer only (a failure
	// to report wakes the worker at once, on the writable socket).
	uint32_t events = request.session && !request.early_failure && !request.wants_write
	                          ? kReadEvents
	                          : kSocketEvents;
	job_count_.fetch_add(1, std::memory_order_relaxed);
	{
		// Into the inbox before the socket goes into the epoll set: the
		// loop may see its first event before add_foreign() returns. Not
		// under the lock: the woken worker would wait for it.
		std::lock_guard lock(inbox_mu_);
		inbox_.emplace_back(std::move(request), pollable);
	}
	if (pollable && loop_->add_foreign(fd, events))
		return;
	// Nothing the loop will hear of by itself (no socket, a malformed
	// reply, a socket epoll refuses): wake it.
	if (pollable) {
		std::lock_guard lock(inbox_mu_);
		for (auto &[r, watched] : inbox_)
			if (r.decoded.request.sockfd == fd)
				watched = false;
	}
	loop_->post([this, fd] { take_handed(fd, false); });
}

void Worker::take_handed(int fd, bool watched) {
	std::optional<AcceptedRequest> found;
	{
		std::lock_guard lock(inbox_mu_);
		for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
			if (it->first.decoded.request.sockfd == fd && it->second == watched) {
				found = std::move(it->first);
				inbox_.erase(it);
				break;
			}
		}
	}
	if (found)
		return start_job(std::move(*found), watched);
	if (watched) {
		// An event for an fd no request names: not ours to keep.
		LOG_DEBUG(shared_.log, "worker %u: event on fd %d, which no request holds", index_,
		          fd);
		loop_->forget(fd);
	}
}

void Worker::start_job(AcceptedRequest handed, bool watched) {
	AcceptDecode decoded = std::move(handed.decoded);
	shared_.stats.record_accepted();
	if (decoded.request.sockfd < 0) {
		// Nothing to complete: there is no socket to name in a DONE.
		LOG_ERR(shared_.log, "worker %u: ACCEPT reply without a socket: %s", index_,
		        decoded.error ? decoded.error->reason.c_str() : "?");
		if (shared_.peer_limit)
			shared_.peer_limit->release(handed.counted_peer);
		job_count_.fetch_sub(1, std::memory_order_relaxed);
		shared_.admission.release();
		return;
	}
	auto owned = std::make_unique<Job>();
	Job &job = *owned;
	job.id = next_id_++;
	job.fd.reset(decoded.request.sockfd);
	job.started = handed.accepted;
	job.label = describe_request(decoded.request);
	job.counted_peer = std::move(handed.counted_peer); // given back by complete()
	job.request = std::move(decoded.request);
	job.keyring = std::move(handed.keyring);
	job.watched = watched;
	jobs_.emplace(job.id, std::move(owned));
	uint64_t id = job.id;
	if (watched)
		loop_->adopt(job.fd.get(), [this, id](uint32_t) {
			auto it = jobs_.find(id);
			if (it != jobs_.end() && it->second->session)
				advance(*it->second);
		});

	if (decoded.error)
		return complete(id, EINVAL, "malformed ACCEPT: " + decoded.error->reason);
	if (auto v = validate_request(job.request); !v)
		return complete(id, v.error().code, v.error().reason);
	// The acceptor asked the socket once (and applied the per-peer bound).
	auto handed_socket =
	        handed.socket ? std::move(*handed.socket) : inspect_handed_socket(job.fd.get());
	if (!handed_socket)
		return complete(id, handed_socket.error().code, handed_socket.error().reason);
	job.socket = std::move(handed_socket).value();
	bool early = handed.session || handed.early_failure;

	uint32_t timeout = job.request.timeout_ms ? job.request.timeout_ms
	                                          : shared_.settings.default_timeout_ms.load();
	job.deadline = loop_->add_timer(job.started + std::chrono::milliseconds(timeout), [=,
	                                                                                   this] {
		complete(id, ETIMEDOUT, "deadline of " + std::to_string(timeout) + " ms passed");
	});
	LOG_DEBUG(shared_.log, "%s: accepted, deadline %u ms", job.label.c_str(), timeout);
	if (early) {
		if (handed.session)
			handed.session->set_log(shared_.log); // the acceptor's until now
		if (handed.early_failure) {
			job.session = std::move(handed.session);
			return complete(id, handed.early_failure->code,
			                handed.early_failure->reason);
		}
		return continue_early(job, std::move(handed.session), handed.wants_write);
	}
	if (needs_reverse_dns(job))
		return start_reverse_dns(job);
	begin_handshake(job, std::nullopt);
}

bool Worker::needs_reverse_dns(Job &job) {
	return wants_reverse_dns(shared_.settings, job.request, job.socket);
}

void Worker::begin_handshake(Job &job, std::optional<ReverseNames> names) {
	uint64_t id = job.id;
	auto session =
	        TlsSession::create(handshake_setup(shared_, *priorities_, job.request, job.socket,
	                                           job.keyring, std::move(names)),
	                           shared_.log);
	if (!session)
		return complete(id, session.error().code, session.error().reason);
	job.session = std::move(session).value();
	run_session(job);
}

void Worker::continue_early(Job &job, std::unique_ptr<TlsSession> session, bool wants_write) {
	job.session = std::move(session);
	job.reads_only = job.watched && !wants_write;
	// Watched: the socket's event that brought it here (the peer's
	// answer) is taken; run_session() steps at once.
	run_session(job);
}

void Worker::run_session(Job &job) {
	uint64_t id = job.id;
	if (!job.watched) {
		auto watched = loop_->watch(job.fd.get(), kSocketEvents, [this, id](uint32_t) {
			auto it = jobs_.find(id);
			if (it != jobs_.end() && it->second->session)
				advance(*it->second);
		});
		if (!watched)
			return complete(id, watched.error().code, watched.error().reason);
		job.watched = true;
	}
	advance(job);
}

void Worker::advance(Job &job) {
	// Edge-triggered: the step runs until the socket would block, and the
	// next edge (either way) comes back here.
	auto r = job.session->step();
	if (!r)
		return complete(job.id, r.error().code, r.error().reason);
	if (r.value() == TlsSession::Progress::Done)
		return finish(job);
	if (r.value() == TlsSession::Progress::WantWrite && job.reads_only) {
		// Watched for reads only (continue_early()): the rest of this
		// flight waits for room, and only EPOLLOUT announces it. The
		// modify reports it at once if the room is there already.
		if (auto m = loop_->modify(job.fd.get(), kSocketEvents); !m)
			return complete(job.id, m.error().code, m.error().reason);
		job.reads_only = false;
	}
}

void Worker::start_reverse_dns(Job &job) {
	uint32_t ms = shared_.settings.reverse_dns_timeout_ms.load();
	uint64_t id = job.id;
	EventLoop *loop = loop_.get();
	auto ticket = shared_.resolver.resolve(
	        job.socket->peer, [loop, id, this](ReverseResolver::Names names) {
		        loop->post([this, id, n = std::move(names)]() mutable {
			        on_reverse_dns(id, std::move(n));
		        });
	        });
	if (!ticket) {
		// Refused, not waited for: the handshake goes on without names.
		LOG_WARN(shared_.log, "%s: no reverse DNS: %s", job.label.c_str(),
		         ticket.error().reason.c_str());
		return begin_handshake(job,
		                       ReverseNames{{}, "queue full: " + ticket.error().reason});
	}
	job.dns = std::move(ticket).value();
	job.dns_timer = loop_->add_timer(coarse_now() + std::chrono::milliseconds(ms), [=, this] {
		on_reverse_dns(id, make_error(ETIMEDOUT, "no answer within %u ms", ms));
	});
}

void Worker::on_reverse_dns(uint64_t id, ReverseResolver::Names names) {
	auto it = jobs_.find(id);
	if (it == jobs_.end())
		return; // already completed (deadline)
	Job &job = *it->second;
	if (job.session)
		return; // the timer fired first
	loop_->cancel_timer(job.dns_timer);
	job.dns_timer = 0;
	job.dns.cancel();
	ReverseNames out;
	if (names)
		out.names = std::move(names).value();
	else
		out.failure = names.error().reason;
	begin_handshake(job, std::move(out));
}

void Worker::finish(Job &job) {
	auto secrets = job.session->traffic_secrets();
	if (!secrets)
		return complete(job.id, secrets.error().code, secrets.error().reason);
	auto remote = job.session->remote_identities();
	if (!remote)
		return complete(job.id, remote.error().code, remote.error().reason);
	if (auto installed = shared_.install(job.fd.get(), secrets.value()); !installed)
		return complete(job.id, EIO, installed.error().reason);
	job.session->restore_nagle();
	complete(job.id, 0, gnutls_cipher_get_name(secrets->cipher), std::move(remote).value());
}

void Worker::complete(uint64_t id, int status, const std::string &reason,
                      std::vector<uint32_t> remote, bool quiet) {
	auto it = jobs_.find(id);
	if (it == jobs_.end())
		return;
	if (!is_done_status(status)) {
		// DONE speaks a fixed vocabulary; anything else is unexpected.
		std::string why = std::string(strerror(status)) + ": " + reason;
		return complete(id, EIO, why, std::move(remote), quiet);
	}
	std::unique_ptr<Job> job = std::move(it->second);
	jobs_.erase(it);
	if (job->watched)
		loop_->unwatch(job->fd.get());
	if (job->deadline)
		loop_->cancel_timer(job->deadline);
	if (job->dns_timer)
		loop_->cancel_timer(job->dns_timer);
	job->dns.cancel();    // a lookup still queued is dropped
	job->session.reset(); // gives the consumer back its Nagle setting

	report_done(shared_, std::to_string(index_) + "." + std::to_string(job->id), job->label,
	            job->request, job->socket ? &*job->socket : nullptr, status, reason,
	            remote.size(), job->started, quiet);
	// Counted off before DONE: the consumer's next request may come as
	// soon as the kernel has it, and take this thread's CPU before the
	// lines below run; this worker is then idle for the acceptor's
	// purposes (start_early()).
	job_count_.fetch_sub(1, std::memory_order_relaxed);
	send_done(job->fd.get(), status, remote);
	job->fd.reset(); // our copy of the socket goes only after DONE
	if (shared_.peer_limit)
		shared_.peer_limit->release(job->counted_peer);
	shared_.admission.release();
}

void Worker::send_done(int fd, int status, const std::vector<uint32_t> &remote) {
	DoneCommand msg{fd, static_cast<uint32_t>(status), remote};
	if (auto r = channel_->done(msg); !r) {
		shared_.stats.record_done_error();
		LOG_WARN(shared_.log, "worker %u: fd %d: %s", index_, fd, r.error().reason.c_str());
	}
}

void Worker::collect_done_refusals() {
	for (const auto &e : channel_->done_refusals()) {
		shared_.stats.record_done_error();
		LOG_WARN(shared_.log, "worker %u: %s", index_, e.reason.c_str());
	}
}

} // namespace tlsup
