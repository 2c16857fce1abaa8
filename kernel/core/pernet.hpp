// SPDX-License-Identifier: GPL-2.0
// The core's state of one network namespace: the FIFO of requests waiting
// for ACCEPT (one per handler class), the accepted requests, counters, and
// the deadline reaper's next run. One bottom-half-safe lock covers all of
// it. Requests hold references on it, and so does the shim's namespace
// state until namespace exit.
#pragma once

#include <tlsup/core.h>

#include "../../include/uapi/linux/handshake.h"
#include "../kstd/atomic.hpp"
#include "../kstd/expected.hpp"
#include "../kstd/list.hpp"
#include "../kstd/types.hpp"
#include "lock.hpp"
#include "request.hpp"

namespace tlsup {

using RequestList = KSTD_LIST(Request, queue_link);
using LiveList = KSTD_LIST(Request, live_link);

class Pernet {
public:
	static Pernet *create(tlsup_pernet *shim);

	Pernet(const Pernet &) = delete;
	Pernet &operator=(const Pernet &) = delete;

	void get() { refs_.get(); }
	void put();

	tlsup_pernet *shim() const { return shim_; }
	SpinLock &lock() { return lock_; }
	kstd::u64 next_request_id() { return next_id_.fetch_add(1) + 1; }

	// Submit, with the index lock and this lock held: -EOPNOTSUPP while
	// draining, -EAGAIN when @max requests already wait; both counted.
	kstd::Expected<void> check_room_locked(kstd::u32 max);
	void count_submit_failed_locked() {
		lock_.assert_held();
		st_.submit_failed++;
	}
	// Queues a published request (Place::Pending).
	void enqueue_locked(Request &req, kstd::u64 now_ms);
	// The namespace's list of published requests (in flight or ended,
	// until their socket goes): what /proc/net/tlsup lists, under this
	// lock alone, never the global index lock.
	void link_published_locked(Request &req) {
		lock_.assert_held();
		published_.push_back(req);
	}
	void unlink_published_locked(Request &req) {
		lock_.assert_held();
		req.live_link.unlink();
	}
	// sk_destruct's: before the socket's destructor chain runs.
	void unlink_published(Request &req) {
		LockGuard g(lock_);
		unlink_published_locked(req);
	}
	// Takes back a pending request whose submit failed (its completion
	// claimed by the caller): no callback, counted as a failed submit.
	void withdraw_locked(Request &req);
	// ACCEPT: the oldest pending request of @cls, moved to Accepted, with a
	// request reference and an extra file reference for the caller.
	RequestRef dequeue(kstd::u32 cls);
	// Called exactly once per request, by its completion's winner, at
	// @now_ms (read before the lock).
	void retire(Request &req, int status, Ending how, kstd::u64 now_ms);

	void count_done_refused() { done_refused_.fetch_add(1); }
	void count_request_alive(bool alive) {
		if (alive)
			live_.fetch_add(1);
		else
			live_.fetch_sub(1);
	}

	// Completes requests whose deadline passed; re-arms for the next one.
	void reap();
	// Namespace exit: refuses new requests, completes all with -ETIMEDOUT.
	void drain();

	void stats(tlsup_stats &out);
	// /proc/net/tlsup: the counters and every published request (in
	// flight, being ended, or ended and waiting for its socket), @now_ms
	// read under the lock (publish() and retire() read theirs before it:
	// never later).
	void show_locked(tlsup_seq *seq, bool privileged, kstd::u64 now_ms);

private:
	explicit Pernet(tlsup_pernet *shim) : shim_(shim) {}
	~Pernet() = default;
	friend void kstd::destroy<Pernet>(Pernet *);

	static constexpr kstd::u32 kClasses = HANDSHAKE_HANDLER_CLASS_MAX;
	static kstd::u32 bucket_of(int status);

	void arm_reaper_locked(kstd::u64 deadline_ms, kstd::u64 now_ms);
	template <typename Fn>
	void for_each_inflight_locked(Fn &&fn);
	// One line of show_locked()'s list.
	void show_request_locked(tlsup_seq *seq, Request &req, bool privileged, kstd::u64 now_ms);
	// Moves an in-flight request into a private batch, with a reference
	// the batch's owner drops (complete_batch).
	void take_locked(Request &req, RequestList &batch);
	// Completes and releases each request of a batch (the lock not held).
	void complete_batch(RequestList &batch, int status, Ending how);

	kstd::RefCount refs_{1};
	kstd::Atomic<kstd::u64> next_id_{0};
	kstd::Atomic<kstd::u32> live_{0};
	kstd::Atomic<kstd::u64> done_refused_{0};
	tlsup_pernet *const shim_;

	SpinLock lock_;
	// Everything below is under lock_.
	RequestList pending_[kClasses];
	RequestList accepted_;
	LiveList published_;
	bool draining_ = false;
	kstd::u64 reaper_at_ms_ = 0; // 0: not armed
	tlsup_stats st_{};
};

} // namespace tlsup
