// SPDX-License-Identifier: GPL-2.0
#include "net_state.hpp"

#include "../../include/uapi/linux/handshake.h"
#include "../kstd/errno.hpp"

namespace tlsup {

using kstd::Error;
using kstd::Expected;
using kstd::u32;
using kstd::u64;
namespace err = kstd::err;

NetState *NetState::create(tlsup_knet *knet) {
	NetState *n = new (kstd::Gfp{tlsup_gfp_kernel}) NetState();
	if (!n)
		return nullptr;
	if (!n->lock_.init(TLSUP_LOCK_NET, tlsup_gfp_kernel)) {
		kstd::destroy(n);
		return nullptr;
	}
	n->knet_ = knet;
	return n;
}

void NetState::put() {
	if (refs_.put())
		kstd::destroy(this);
}

void NetState::count_request_alive(bool alive) {
	LockGuard g(lock_);
	if (alive)
		st_.live++;
	else
		st_.live--;
}

void NetState::count_submit_failed() {
	LockGuard g(lock_);
	st_.submit_failed++;
}

void NetState::count_done_refused() {
	LockGuard g(lock_);
	st_.done_refused++;
}

// Called with lock_ held. mod_delayed_work() is safe under a spinlock.
void NetState::arm_reaper_locked(u64 deadline_ms, u64 now_ms) {
	if (draining_ || (reaper_at_ms_ && reaper_at_ms_ <= deadline_ms))
		return;
	reaper_at_ms_ = deadline_ms;
	tlsup_shim_reaper_arm(knet_, deadline_ms > now_ms ? deadline_ms - now_ms : 0);
}

Expected<void> NetState::enqueue(Request &req) {
	const u32 max = tlsup_shim_max_pending();
	const u64 now = tlsup_shim_now_ms();
	LockGuard g(lock_);
	if (draining_)
		return Error(err::eopnotsupp);
	if (st_.pending >= max)
		return Error(err::eagain);
	req.set_times(now);
	pending_[req.handler_class()].push_back(req);
	req.place = Place::Pending;
	st_.pending++;
	st_.inflight++;
	st_.submitted++;
	if (req.deadline_ms())
		arm_reaper_locked(req.deadline_ms(), now);
	return {};
}

bool NetState::withdraw(Request &req) {
	LockGuard g(lock_);
	if (req.place != Place::Pending)
		return false;
	req.queue_link.unlink();
	req.place = Place::None;
	st_.pending--;
	return true;
}

Request *NetState::dequeue(u32 cls) {
	if (cls >= kClasses)
		return nullptr;
	LockGuard g(lock_);
	while (Request *req = pending_[cls].pop_front()) {
		st_.pending--;
		if (req->completed()) {
			// Its canceller is about to retire it; it is no longer ours
			// to hand out.
			req->place = Place::None;
			continue;
		}
		req->place = Place::Accepted;
		req->mark_accepted();
		accepted_.push_back(*req);
		st_.accepted++;
		req->get();
		// Whoever completes the request meanwhile drops its own file
		// reference; this one lives until fd_install() consumes it.
		tlsup_shim_file_get(req->file());
		return req;
	}
	return nullptr;
}

// Status buckets for the counters, in tlsup_status_bucket order.
static constexpr struct {
	int status;
	tlsup_status_bucket bucket;
} kStatusBuckets[] = {
        {0, TLSUP_ST_OK},
        {-err::eacces, TLSUP_ST_EACCES},
        {-err::enokey, TLSUP_ST_ENOKEY},
        {-err::ekeyrejected, TLSUP_ST_EKEYREJECTED},
        {-err::etimedout, TLSUP_ST_ETIMEDOUT},
        {-err::einval, TLSUP_ST_EINVAL},
        {-err::enomem, TLSUP_ST_ENOMEM},
        {-err::eio, TLSUP_ST_EIO},
};

u32 NetState::bucket_of(int status) {
	for (const auto &b : kStatusBuckets)
		if (b.status == status)
			return b.bucket;
	return TLSUP_ST_OTHER;
}

void NetState::retire(Request &req, int status, Ending how) {
	LockGuard g(lock_);
	if (req.retired) {
		tlsup_shim_warn("tlsup: request retired twice");
		return;
	}
	req.retired = true;
	// A batched request stays in its batch: the reaper or drain that took
	// it holds a reference it drops when it pops it.
	if (req.place != Place::Batch) {
		if (req.place == Place::Pending)
			st_.pending--;
		req.queue_link.unlink();
		req.place = Place::None;
	}
	st_.inflight--;
	switch (how) {
	case Ending::Cancel:
		st_.cancelled++;
		break;
	case Ending::Withdrawn:
		st_.submitted--;
		st_.submit_failed++;
		break;
	case Ending::Expire:
		st_.expired++;
		[[fallthrough]];
	default:
		st_.completed++;
		st_.by_status[bucket_of(status)]++;
		break;
	}
}

template <typename Fn>
void NetState::for_each_inflight_locked(Fn &&fn) {
	for (auto &list : pending_)
		list.for_each_safe(fn);
	accepted_.for_each_safe(fn);
}

void NetState::take_locked(Request &req, RequestList &batch) {
	if (req.place == Place::Pending)
		st_.pending--;
	req.queue_link.unlink();
	req.place = Place::Batch;
	req.get();
	batch.push_back(req);
}

void NetState::complete_batch(RequestList &batch, int status, Ending how) {
	for (;;) {
		Request *req;
		{
			LockGuard g(lock_);
			req = batch.pop_front();
			if (!req)
				return;
			req->place = Place::None;
		}
		if (how == Ending::Expire)
			tlsup_shim_trace(TLSUP_TRACE_EXPIRE, req->sk(), req->id(), -err::etimedout);
		req->complete(status, {}, how);
		req->put();
	}
}

void NetState::reap() {
	RequestList batch;
	{
		const u64 now = tlsup_shim_now_ms();
		LockGuard g(lock_);
		u64 next = 0;
		for_each_inflight_locked([&](Request &req) {
			const u64 dl = req.deadline_ms();
			if (!dl || req.completed())
				return;
			if (dl <= now)
				take_locked(req, batch);
			else if (!next || dl < next)
				next = dl;
		});
		reaper_at_ms_ = 0;
		if (next)
			arm_reaper_locked(next, now);
	}
	complete_batch(batch, -err::etimedout, Ending::Expire);
}

void NetState::drain() {
	RequestList batch;
	{
		LockGuard g(lock_);
		draining_ = true;
		for_each_inflight_locked([&](Request &req) { take_locked(req, batch); });
	}
	// No new deadline can be armed now; wait out a running reaper.
	tlsup_shim_reaper_cancel_sync(knet_);
	complete_batch(batch, -err::etimedout, Ending::Drain);
}

void NetState::stats(tlsup_stats &out) {
	LockGuard g(lock_);
	out = st_;
	out.max_pending = tlsup_shim_max_pending();
}

static const char *msg_type_name(u32 t) {
	return t == HANDSHAKE_MSG_TYPE_CLIENTHELLO ? "client" : "server";
}

static const char *auth_name(u32 a) {
	constexpr const char *names[] = {"unspec", "anon", "psk", "x509"};
	return a < kstd::size(names) ? names[a] : "?";
}

void NetState::show(tlsup_seq *seq) {
	static constexpr const char *kBucketNames[TLSUP_ST_NR] = {
	        "ok",     "eacces", "enokey", "ekeyrejected", "etimedout",
	        "einval", "enomem", "eio",    "other",
	};
	const u64 now = tlsup_shim_now_ms();
	LockGuard g(lock_);
	tlsup_shim_seq_printf(seq, "submitted: %llu\n", st_.submitted);
	tlsup_shim_seq_printf(seq, "submit_failed: %llu\n", st_.submit_failed);
	tlsup_shim_seq_printf(seq, "accepted: %llu\n", st_.accepted);
	tlsup_shim_seq_printf(seq, "completed: %llu\n", st_.completed);
	for (u32 i = 0; i < TLSUP_ST_NR; i++)
		tlsup_shim_seq_printf(seq, "completed_%s: %llu\n", kBucketNames[i],
		                      st_.by_status[i]);
	tlsup_shim_seq_printf(seq, "cancelled: %llu\n", st_.cancelled);
	tlsup_shim_seq_printf(seq, "expired: %llu\n", st_.expired);
	tlsup_shim_seq_printf(seq, "done_refused: %llu\n", st_.done_refused);
	tlsup_shim_seq_printf(seq, "pending: %u\n", st_.pending);
	tlsup_shim_seq_printf(seq, "inflight: %u\n", st_.inflight);
	tlsup_shim_seq_printf(seq, "max_pending: %u\n", tlsup_shim_max_pending());
	tlsup_shim_seq_printf(seq, "live: %u\n", st_.live);
	tlsup_shim_seq_printf(seq, "request_bytes: %u\n", static_cast<unsigned>(sizeof(Request)));
	tlsup_shim_seq_printf(seq, "requests:\n");
	for_each_inflight_locked([&](Request &req) {
		// Batched requests (being expired or drained) are off these lists.
		const char *state = req.place == Place::Pending ? "pending" : "accepted";
		const char *peer = req.peername();
		tlsup_shim_seq_printf(seq,
		                      "  id=%llu state=%s type=%s auth=%s age_ms=%llu "
		                      "timeout_ms=%u peername=%s\n",
		                      static_cast<unsigned long long>(req.id()), state,
		                      msg_type_name(req.msg_type()), auth_name(req.auth_mode()),
		                      static_cast<unsigned long long>(now - req.submit_ms()),
		                      req.timeout_ms(), peer ? peer : "-");
	});
}

} // namespace tlsup
