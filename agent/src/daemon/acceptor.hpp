// SPDX-License-Identifier: GPL-2.0
//
// The acceptor: one thread that does nothing but take requests from the
// kernel and hand them to the workers. The kernel refuses a submission
// (-EAGAIN) while its queue of requests not yet ACCEPTed is full (upstream:
// 3 to 50 by RAM); a worker busy with handshakes must never be what leaves
// them there. So READY goes to the acceptor alone (one socket in the
// "tlshd" group, however many workers), it ACCEPTs one request per READY
// -- until -EAGAIN at start-up and after lost notifications (ENOBUFS) --
// and gives each to the least busy worker, waking that one only.
//
// The per-peer bound ([agent] max_inflight_per_peer) is applied here, where
// slots are taken: a server request from a peer that holds its share while
// slots are scarce is refused (DONE EACCES) before the next ACCEPT, so one
// peer's stalled connections never hold more than their share even for
// the moment between an ACCEPT and a worker's first look.
//
// A client request ACCEPTed alone -- nothing else owed, every worker idle --
// gets its first step here (start_early()): nothing is waiting for the
// acceptor then, and the worker is woken once, by the server's answer,
// instead of first for the writable socket. In a storm (more than one
// request per sweep, or any worker busy) every step is the workers'.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "event_loop.hpp"
#include "handshake_channel.hpp"
#include "worker.hpp"

namespace tlsup {

class Acceptor {
public:
	// CHANNEL hears READY and sends ACCEPT; WORKERS outlive the acceptor.
	// LOG, when given, is the acceptor's own (a DeferredLog's: it never
	// waits for the journal) instead of SHARED's.
	static Result<std::unique_ptr<Acceptor>> create(WorkerShared &shared,
	                                                std::unique_ptr<HandshakeChannel> channel,
	                                                std::vector<Worker *> workers,
	                                                const Log *log = nullptr);
	~Acceptor();

	// Runs the loop on a new thread; ACCEPTs until -EAGAIN first (requests
	// queued before the agent joined the group had their READY sent to
	// nobody). SWEPT runs on the acceptor's thread once that is done.
	// REALTIME: the thread runs SCHED_FIFO (thread_priority.hpp), else
	// SCHED_OTHER whatever it inherited.
	void start(std::function<void()> swept = {}, bool realtime = false);
	void stop(); // any thread; joins

	EventLoop &loop() { return *loop_; }

private:
	Acceptor(WorkerShared shared, std::unique_ptr<HandshakeChannel> channel,
	         std::vector<Worker *> workers)
	    : shared_(std::move(shared)), channel_(std::move(channel)),
	      workers_(std::move(workers)) {}

	void on_notification();
	// Reads every queued notification (one recvmmsg() when few are): a
	// READY is owed an ACCEPT, an overrun or a failed read a sweep. False:
	// none was queued.
	bool read_notifications();
	void accept_owed();
	bool any_worker_busy() const;
	// Asks REQUEST's socket once (inspect_handed_socket(); the worker
	// reuses the answer) and counts it against its peer's share. False:
	// refused, DONE sent, the slot given back.
	bool admit(AcceptedRequest &request);
	void refuse(AcceptedRequest &request, const std::string &peer);
	void collect_done_refusals();
	// Gives REQUEST to the least busy worker; ALONE: it was the only
	// request of its sweep and nothing is owed (start_early()).
	void hand_over(AcceptedRequest request, bool alone);
	Worker &least_busy();

	WorkerShared shared_; // the agent's, with the acceptor's own log
	std::unique_ptr<HandshakeChannel> channel_;
	std::vector<Worker *> workers_;
	std::unique_ptr<EventLoop> loop_;
	std::unique_ptr<Priorities> priorities_; // for start_early()'s sessions
	uint64_t waker_ = 0;
	// ACCEPTs owed: one per READY read and not yet answered by a request;
	// SWEEP_: ACCEPT until -EAGAIN whatever the count.
	size_t owed_ = 0;
	bool sweep_ = true;
	EventLoop::TimerId retry_timer_ = 0; // after kMaxAcceptErrors in a row
	// When each owed READY was read, oldest first: READY to ACCEPT reply
	// is the latency the kernel's queue sees from us.
	std::deque<Clock::time_point> ready_at_;
	size_t next_worker_ = 0;
	uint64_t refused_ = 0;    // TLSUP_REQUEST "a.N" of the acceptor's refusals
	bool dones_sent_ = false; // since the kernel's refusals of them were read
	std::thread thread_;
};

} // namespace tlsup
