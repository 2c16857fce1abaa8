// SPDX-License-Identifier: GPL-2.0
//
// A worker thread: its own event loop, the handshakes the acceptor handed
// it, and a kernel channel for their DONEs. Every blocking step (reverse
// DNS) is handed to a helper thread; everything else is a non-blocking step
// of the loop.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "admission.hpp"
#include "credentials.hpp"
#include "event_loop.hpp"
#include "handed_socket.hpp"
#include "handshake.hpp"
#include "handshake_channel.hpp"
#include "keyring_linker.hpp"
#include "ktls_install.hpp"
#include "log.hpp"
#include "peer_keys.hpp"
#include "peer_limit.hpp"
#include "pi_mutex.hpp"
#include "request_keyring.hpp"
#include "reverse_dns.hpp"
#include "stats.hpp"

namespace tlsup {

// Settings a reload may change; read by workers for each request.
struct WorkerSettings {
	std::atomic<uint32_t> default_timeout_ms{20000};
	std::atomic<bool> reverse_dns{false}; // [agent] reverse_dns
	std::atomic<uint32_t> reverse_dns_timeout_ms{2000};
};

// What the workers share; owned by the agent, outlives the workers.
struct WorkerShared {
	const Log &log;
	CredentialStore &credentials;
	KeyringStore &keyrings;
	Admission &admission;
	Stats &stats;
	ReverseResolver &resolver;
	WorkerSettings &settings;
	const PeerCertificateKeys &peer_keys;
	AcceptKeyrings &accept_keyrings;
	// kTLS installation; tests substitute a recorder.
	std::function<Result<void>(int fd, const TrafficSecrets &)> install = install_ktls;
	// What one peer may hold at once ([agent] max_inflight_per_peer); none
	// when null.
	PeerLimit *peer_limit = nullptr;

	// The same, logging to LOG.
	WorkerShared with_log(const Log &other) const {
		WorkerShared s{other,    credentials, keyrings,  admission,      stats,
		               resolver, settings,    peer_keys, accept_keyrings};
		s.install = install;
		s.peer_limit = peer_limit;
		return s;
	}
};

// What the engine needs from an accepted request (validate_request()
// already passed): the wire's message type and auth mode become a role and
// a mode, TLS_NO_PEERID entries go.
SessionSetup session_setup_for(const AcceptReply &req);

// A request the acceptor took from the kernel, on its way to a worker.
struct AcceptedRequest {
	AcceptDecode decoded;
	RequestKeyring keyring;
	Clock::time_point accepted; // when the ACCEPT reply arrived
	// What inspect_handed_socket() said of the socket: the acceptor asks
	// once, for the per-peer bound, and the worker does not ask again.
	// Not asked (nullopt) for a reply the worker refuses before it would.
	std::optional<Result<HandedSocket>> socket;
	// The PeerLimit share the acceptor counted for it; the worker gives it
	// back when the request completes.
	std::string counted_peer;
	// The handshake's first step, when the acceptor took it (start_early()):
	// the session, or why it could not begin (the worker completes the
	// request with it, as if its own step had failed); WANTS_WRITE: that
	// step left output for the socket to take.
	std::unique_ptr<TlsSession> session;
	std::optional<Error> early_failure;
	bool wants_write = false;
	// The credentials that step used, let go with the request on its
	// worker: never the acceptor's to free, whatever a reload did.
	std::shared_ptr<const Credentials> credentials;
};

// The acceptor's thread, for a request it gives to an idle worker with no
// other request owed: a client's first step -- the session set up, the
// ClientHello sent -- runs here, before the hand-over, so the worker wakes
// once, when the server answers, and not first for the writable socket.
// Only a client's: its first step reads nothing from the peer and costs a
// key share; a server's would sign, and a client waiting for reverse DNS
// has no session yet. False: not such a request, nothing done.
bool start_early(WorkerShared &shared, const Priorities &priorities, AcceptedRequest &request);

// "fd 7 (server x509 'name')": how the log names a request.
std::string describe_request(const AcceptReply &req);

// The journal line and the counters for a request that ended with STATUS:
// the same wherever it ended (a worker, or the acceptor's refusal). ID is
// TLSUP_REQUEST; QUIET: debug priority (a refusal summarised elsewhere).
void report_done(WorkerShared &shared, const std::string &id, const std::string &label,
                 const AcceptReply &req, const HandedSocket *socket, int status,
                 const std::string &reason, size_t remote_ids, Clock::time_point started,
                 bool quiet);

class Worker {
public:
	// CHANNEL sends this worker's DONEs.
	static Result<std::unique_ptr<Worker>> create(unsigned index, WorkerShared &shared,
	                                              std::unique_ptr<HandshakeChannel> channel);
	~Worker();

	// Runs the loop on a new thread, which first lowers its own priority
	// by NICE (0: leaves it): in a storm the acceptor, at the service's
	// priority, gets the CPU before busy workers, and no privilege is
	// needed (a thread may always lower its own).
	void start(unsigned nice = 0);
	void stop(); // any thread; joins; requests in flight get ETIMEDOUT

	// Any thread (the acceptor): the request is this worker's now. Its
	// socket goes straight into the worker's epoll set, so the worker
	// wakes once, when the socket is ready, and not for a message first.
	void hand_over(AcceptedRequest request);

	EventLoop &loop() { return *loop_; }
	// Requests handed over and not yet done: the acceptor's measure of load.
	size_t jobs() const { return job_count_.load(std::memory_order_relaxed); }

private:
	struct Job;
	Worker(unsigned index, WorkerShared &shared, std::unique_ptr<HandshakeChannel> channel);

	void take_handed(int fd, bool watched);
	void start_job(AcceptedRequest request, bool watched);
	// A session the acceptor began (start_early()) goes on here.
	void continue_early(Job &job, std::unique_ptr<TlsSession> session, bool wants_write);
	// Watches the job's socket if the acceptor could not, and steps.
	void run_session(Job &job);
	bool needs_reverse_dns(Job &job);
	void begin_handshake(Job &job, std::optional<ReverseNames> names);
	void advance(Job &job);
	void finish(Job &job);
	void start_reverse_dns(Job &job);
	void on_reverse_dns(uint64_t id, ReverseResolver::Names names);
	// QUIET: the failure is logged at debug priority only (a refusal the
	// caller reports in a summary of its own).
	void complete(uint64_t id, int status, const std::string &reason,
	              std::vector<uint32_t> remote = {}, bool quiet = false);
	void send_done(int fd, int status, const std::vector<uint32_t> &remote);
	void collect_done_refusals();

	unsigned index_;
	WorkerShared &shared_;
	std::unique_ptr<HandshakeChannel> channel_;
	std::unique_ptr<EventLoop> loop_;
	std::unique_ptr<Priorities> priorities_;
	std::unordered_map<uint64_t, std::unique_ptr<Job>> jobs_;
	std::atomic<size_t> job_count_{0};
	uint64_t next_id_ = 1;
	// Handed over by the acceptor, not yet taken by this worker's loop.
	PiMutex inbox_mu_;                                    // the acceptor hands over
	std::vector<std::pair<AcceptedRequest, bool>> inbox_; // request, socket in epoll
	std::thread thread_;
};

} // namespace tlsup
