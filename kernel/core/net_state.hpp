// SPDX-License-Identifier: GPL-2.0
// Per-network-namespace state: the FIFO of requests waiting for ACCEPT (one
// per handler class), the accepted requests, counters, and the deadline
// reaper's next run. One bottom-half-safe lock covers all of it.
#pragma once

#include <tlsup/core.h>

#include "../kstd/atomic.hpp"
#include "../kstd/expected.hpp"
#include "../kstd/list.hpp"
#include "../kstd/types.hpp"
#include "lock.hpp"
#include "request.hpp"

namespace tlsup {

using RequestList = KSTD_LIST(Request, queue_link);

class NetState {
public:
	static NetState *create(tlsup_knet *knet);

	NetState(const NetState &) = delete;
	NetState &operator=(const NetState &) = delete;

	void get() { refs_.get(); }
	void put();

	tlsup_knet *knet() const { return knet_; }
	kstd::u64 next_request_id() { return next_id_.fetch_add(1) + 1; }

	// Queues a new request (Place::Pending) unless the net is draining
	// (-EOPNOTSUPP) or max_pending requests already wait (-EAGAIN).
	kstd::Expected<void> enqueue(Request &req);
	// Takes a queued request back if no agent accepted it yet.
	bool withdraw(Request &req);
	// ACCEPT: the oldest pending request of @cls, moved to Accepted, with a
	// request reference and an extra file reference for the caller.
	Request *dequeue(kstd::u32 cls);
	// Called exactly once per request, by its completion's winner.
	void retire(Request &req, int status, Ending how);

	void count_submit_failed();
	void count_done_refused();
	void count_request_alive(bool alive);

	// Completes requests whose deadline passed; re-arms for the next one.
	void reap();
	// Namespace exit: refuses new requests, completes all with -ETIMEDOUT.
	void drain();

	void stats(tlsup_stats &out);
	void show(tlsup_seq *seq);

private:
	NetState() = default;
	~NetState() = default;
	friend void kstd::destroy<NetState>(NetState *);

	static constexpr kstd::u32 kClasses = 2; // HANDSHAKE_HANDLER_CLASS_MAX
	static kstd::u32 bucket_of(int status);

	void arm_reaper_locked(kstd::u64 deadline_ms, kstd::u64 now_ms);
	template <typename Fn>
	void for_each_inflight_locked(Fn &&fn);
	// Moves an in-flight request into a private batch, with a reference
	// the batch's owner drops (complete_batch).
	void take_locked(Request &req, RequestList &batch);
	// Completes and releases each request of a batch (the lock not held).
	void complete_batch(RequestList &batch, int status, Ending how);

	kstd::RefCount refs_{1};
	kstd::Atomic<kstd::u64> next_id_{0};
	tlsup_knet *knet_ = nullptr;

	SpinLock lock_;
	// Everything below is under lock_.
	RequestList pending_[kClasses];
	RequestList accepted_;
	bool draining_ = false;
	kstd::u64 reaper_at_ms_ = 0; // 0: not armed
	tlsup_stats st_{};
};

} // namespace tlsup
