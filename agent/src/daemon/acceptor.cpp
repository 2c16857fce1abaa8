// SPDX-License-Identifier: GPL-2.0
#include "acceptor.hpp"

#include <algorithm>

#include <sys/epoll.h>

#include <uapi/linux/handshake.h>

#include "thread_priority.hpp"

namespace tlsup {

namespace {

// READY timestamps kept for the latency: a flood of them (a storm, a
// misbehaving kernel) must not grow without bound.
constexpr size_t kMaxReadyTimes = 65536;

// ACCEPTs that fail in a row before the acceptor waits kAcceptRetry: an
// error that repeats (no free descriptor) must not spin the loop, nor fail
// the whole queue at once.
constexpr unsigned kMaxAcceptErrors = 8;
constexpr std::chrono::milliseconds kAcceptRetry{200};

// Requests one accept_owed() takes before it stops reading READYs again:
// a flood faster than ACCEPT must not keep what was taken from the workers
// (its deadline runs from the ACCEPT) nor keep the loop from its timers,
// posts and stop(). Past it, the notifications left wake epoll at once.
constexpr unsigned kMaxBurstAccepts = 32;

} // namespace

Result<std::unique_ptr<Acceptor>> Acceptor::create(WorkerShared &shared,
                                                   std::unique_ptr<HandshakeChannel> channel,
                                                   std::vector<Worker *> workers, const Log *log) {
	if (workers.empty())
		return make_error(EINVAL, "an acceptor without workers");
	auto a = std::unique_ptr<Acceptor>(new Acceptor(log ? shared.with_log(*log) : shared,
	                                                std::move(channel), std::move(workers)));
	a->loop_ = TRY(EventLoop::create());
	a->priorities_ = TRY(Priorities::create());
	Acceptor *self = a.get();
	if (int fd = a->channel_->notify_fd(); fd >= 0)
		TRY(a->loop_->watch(fd, EPOLLIN, [self](uint32_t) { self->on_notification(); }));
	EventLoop *loop = a->loop_.get();
	a->waker_ = shared.admission.on_slot_free(
	        [loop, self] { loop->post([self] { self->accept_owed(); }); });
	return a;
}

Acceptor::~Acceptor() {
	stop();
	shared_.admission.forget(waker_);
}

void Acceptor::start(std::function<void()> swept, bool realtime) {
	loop_->post([this, swept = std::move(swept)] {
		accept_owed();
		if (swept)
			swept();
	});
	thread_ = std::thread([this, realtime] {
		pthread_setname_np(pthread_self(), "tlsupd-accept");
		auto sched = realtime ? enter_realtime() : leave_realtime();
		if (!sched)
			LOG_WARN(shared_.log,
			         realtime
			                 ? "acceptor: cannot run real-time: %s; in a reconnect "
			                   "storm "
			                   "the kernel may refuse submissions while other threads "
			                   "hold the CPU (SCHED_FIFO 1 needs LimitRTPRIO=1, as the "
			                   "unit sets, or CAP_SYS_NICE)"
			                 : "acceptor: %s",
			         sched.error().reason.c_str());
		if (realtime && sched)
			if (auto c = close_realtime_to_others(); !c)
				LOG_WARN(shared_.log,
				         "acceptor: %s; other threads could still make "
				         "themselves real-time",
				         c.error().reason.c_str());
		shared_.stats.set_acceptor_realtime(thread_is_realtime());
		auto r = loop_->run();
		if (!r)
			LOG_ERR(shared_.log, "acceptor: event loop failed: %s",
			        r.error().reason.c_str());
	});
}

void Acceptor::stop() {
	if (thread_.joinable()) {
		loop_->stop();
		thread_.join();
	}
}

void Acceptor::on_notification() {
	read_notifications();
	accept_owed();
}

bool Acceptor::read_notifications() {
	auto n = channel_->drain_notifications();
	if (!n) {
		// READYs it had counted are consumed with the failed read, and no
		// edge will come for them: as if lost, ACCEPT until -EAGAIN.
		LOG_ERR(shared_.log, "acceptor: %s; accepting until the kernel's queue is empty",
		        n.error().reason.c_str());
		sweep_ = true;
		return true;
	}
	if (n->ready) {
		auto now = Clock::now();
		for (unsigned i = 0; i < n->ready; i++) {
			shared_.stats.record_ready();
			if (ready_at_.size() < kMaxReadyTimes)
				ready_at_.push_back(now);
		}
		owed_ += n->ready;
	}
	for (unsigned i = 0; i < n->overruns; i++)
		shared_.stats.record_overrun();
	if (n->overruns) {
		// A lost notification may have been a READY.
		LOG_DEBUG(shared_.log, "acceptor: notifications lost (ENOBUFS); accepting until "
		                       "the kernel's queue is empty");
		sweep_ = true;
	}
	return n->ready || n->overruns;
}

bool Acceptor::any_worker_busy() const {
	return std::any_of(workers_.begin(), workers_.end(),
	                   [](const Worker *w) { return w->jobs() > 0; });
}

void Acceptor::accept_owed() {
	// Everything owed is ACCEPTed before any of it is handed over: a
	// worker woken by a hand-over may take the CPU from the acceptor (one
	// vCPU), and the requests still in the kernel's queue would wait for
	// that worker's handshake step.
	std::vector<AcceptedRequest> taken;
	struct HandOver {
		Acceptor *self;
		std::vector<AcceptedRequest> &taken;
		~HandOver() {
			bool alone = taken.size() == 1 && self->owed_ == 0 && !self->sweep_;
			for (auto &r : taken)
				self->hand_over(std::move(r), alone);
			if (self->dones_sent_)
				self->collect_done_refusals();
		}
	} hand_over{this, taken};
	unsigned failed = 0; // ACCEPTs failed in a row
	unsigned took = 0;   // requests ACCEPTed here, refused ones too
	for (;;) {
		if (!sweep_ && owed_ == 0) {
			// Every READY read is answered. In a burst the kernel goes on
			// submitting while we ACCEPT (nvmet's accept loop submits a
			// request per connection, 80 us apart under TCG): READYs that
			// came meanwhile are answered now, not after the hand-overs,
			// a worker's wake-up and the next epoll round -- the kernel's
			// bound on requests not yet ACCEPTed (3 to 50) is what a
			// burst fills. Only while some worker is busy (requests come
			// faster than one at a time): a lone request costs no extra
			// recvmmsg().
			size_t owed_before = owed_;
			if (taken.empty() || took >= kMaxBurstAccepts || !any_worker_busy() ||
			    !read_notifications())
				break;
			shared_.stats.record_burst_readies(owed_ - owed_before);
		}
		if (!shared_.admission.acquire()) {
			// Resumed by the first slot freed (the waker).
			shared_.stats.record_starved();
			LOG_DEBUG(shared_.log, "acceptor: %u handshakes in flight; ACCEPT paused",
			          shared_.admission.limit());
			return;
		}
		RequestKeyring keyring;
		auto r = [&] {
			auto window = shared_.accept_keyrings.open_window();
			auto accepted = channel_->accept();
			if (accepted && accepted.value())
				keyring = window.claim(accepted.value()->request.keyring);
			return accepted;
		}();
		auto now = Clock::now();
		if (!r) {
			shared_.admission.release();
			shared_.stats.record_accept_error();
			LOG_ERR(shared_.log, "acceptor: %s", r.error().reason.c_str());
			// The kernel fails a request its ACCEPT could not hand over
			// (tlsup.ko: the consumer's keyring would not link; upstream:
			// no free descriptor) and drops it: its READY is answered, and
			// the requests behind it are owed still -- a READY may never
			// come for them. An error that took no request is covered by
			// accepting until -EAGAIN.
			if (owed_)
				owed_--;
			if (!ready_at_.empty())
				ready_at_.pop_front();
			sweep_ = true;
			if (++failed < kMaxAcceptErrors)
				continue;
			// Failing every time: again in a while.
			if (!retry_timer_)
				retry_timer_ =
				        loop_->add_timer(Clock::now() + kAcceptRetry, [this] {
					        retry_timer_ = 0;
					        accept_owed();
				        });
			return;
		}
		failed = 0;
		if (!r.value()) {
			// -EAGAIN: every READY read so far is answered (by us, or by
			// another agent in this namespace).
			shared_.admission.release();
			owed_ = 0;
			sweep_ = false;
			ready_at_.clear();
			return;
		}
		took++;
		if (owed_)
			owed_--;
		if (!ready_at_.empty()) {
			shared_.stats.record_accept_latency(
			        std::chrono::duration_cast<std::chrono::microseconds>(
			                now - ready_at_.front()));
			ready_at_.pop_front();
		}
		AcceptedRequest request{std::move(*r.value()), std::move(keyring), now};
		if (admit(request))
			taken.push_back(std::move(request));
	}
}

bool Acceptor::admit(AcceptedRequest &request) {
	const AcceptReply &req = request.decoded.request;
	// A reply the worker refuses before it would look at the socket goes
	// to it as it is.
	if (request.decoded.error || req.sockfd < 0 || !validate_request(req).ok())
		return true;
	request.socket = inspect_handed_socket(req.sockfd);
	PeerLimit *limit = shared_.peer_limit;
	// A server's peer connected to it; a client's is the consumer's choice
	// (a consumer may well open a thousand connections to one server).
	if (!limit || !*request.socket || req.message_type != HANDSHAKE_MSG_TYPE_SERVERHELLO)
		return true;
	std::string peer = PeerLimit::peer_of(request.socket->value().peer);
	// This request's slot is counted already.
	bool crowded = 2 * shared_.admission.inflight() > shared_.admission.limit();
	if (limit->acquire(peer, crowded)) {
		request.counted_peer = std::move(peer);
		return true;
	}
	refuse(request, peer);
	return false;
}

void Acceptor::refuse(AcceptedRequest &request, const std::string &peer) {
	PeerLimit &limit = *shared_.peer_limit;
	const AcceptReply &req = request.decoded.request;
	UniqueFd fd(req.sockfd); // ours until after DONE
	shared_.stats.record_accepted();
	// One line per peer now and then, not one per refusal: the refusals
	// come as fast as the peer can connect.
	auto refused = limit.refusals_to_log(peer, Clock::now());
	std::string reason = "peer " + peer + " holds " + std::to_string(limit.held(peer)) +
	                     " handshakes already, and half the slots are taken ([agent] "
	                     "max_inflight_per_peer " +
	                     std::to_string(limit.limit()) + ")";
	if (refused)
		reason += "; " + std::to_string(*refused) + " refused since the last such line";
	report_done(shared_, "a." + std::to_string(++refused_), describe_request(req), req,
	            &request.socket->value(), EACCES, reason, 0, request.accepted, !refused);
	if (auto r = channel_->done(DoneCommand{fd.get(), EACCES, {}}); !r) {
		shared_.stats.record_done_error();
		LOG_WARN(shared_.log, "acceptor: fd %d: %s", fd.get(), r.error().reason.c_str());
	}
	dones_sent_ = true;
	shared_.admission.release();
	// Let go on a worker: the consumer may have dropped its own reference
	// to the socket inside DONE, making ours the last (a TCP teardown),
	// and a request keyring's holder goes by keyctl(). Neither is work
	// for the real-time thread, in a flood of refusals least of all.
	auto leftovers = std::make_shared<std::pair<UniqueFd, RequestKeyring>>(
	        std::move(fd), std::move(request.keyring));
	workers_[refused_ % workers_.size()]->loop().post([leftovers] {});
}

void Acceptor::collect_done_refusals() {
	// The kernel answers a DONE inside sendmsg(), and only to refuse it:
	// whatever refusals the refused requests' DONEs drew are queued now.
	dones_sent_ = false;
	for (const auto &e : channel_->done_refusals()) {
		shared_.stats.record_done_error();
		LOG_WARN(shared_.log, "acceptor: %s", e.reason.c_str());
	}
}

void Acceptor::hand_over(AcceptedRequest request, bool alone) {
	// Nothing owed and no handshake in hand anywhere: the acceptor has
	// time for a client's first step, and the worker would only wake to
	// take it. Any worker busy means requests are coming faster than one
	// at a time -- the start of a burst, where the next READY must not
	// wait for a ClientHello.
	bool idle = alone;
	for (Worker *w : workers_)
		idle = idle && w->jobs() == 0;
	Worker &worker = least_busy();
	if (idle)
		start_early(shared_, *priorities_, request);
	worker.hand_over(std::move(request));
}

Worker &Acceptor::least_busy() {
	// Fewest requests in hand; among equals, the next in turn.
	size_t n = workers_.size();
	size_t best = next_worker_ % n;
	for (size_t k = 1; k < n; k++) {
		size_t i = (next_worker_ + k) % n;
		if (workers_[i]->jobs() < workers_[best]->jobs())
			best = i;
	}
	next_worker_ = best + 1;
	return *workers_[best];
}

} // namespace tlsup
