// SPDX-License-Identifier: GPL-2.0
#include "pernet.hpp"

#include "../kstd/errno.hpp"

namespace tlsup {

using kstd::Error;
using kstd::Expected;
using kstd::u32;
using kstd::u64;
namespace err = kstd::err;

Pernet *Pernet::create(tlsup_pernet *shim) {
	Pernet *pn = new (kstd::Gfp{tlsup_gfp_kernel}) Pernet(shim);
	if (!pn)
		return nullptr;
	if (!pn->lock_.init(TLSUP_LOCK_PERNET, tlsup_gfp_kernel)) {
		kstd::destroy(pn);
		return nullptr;
	}
	return pn;
}

void Pernet::put() {
	if (refs_.put())
		kstd::destroy(this);
}

// mod_delayed_work() is safe under a spinlock.
void Pernet::arm_reaper_locked(u64 deadline_ms, u64 now_ms) {
	lock_.assert_held();
	if (draining_ || (reaper_at_ms_ && reaper_at_ms_ <= deadline_ms))
		return;
	reaper_at_ms_ = deadline_ms;
	tlsup_shim_reaper_arm(shim_, deadline_ms > now_ms ? deadline_ms - now_ms : 0);
}

Expected<void> Pernet::check_room_locked(u32 max) {
	lock_.assert_held();
	if (draining_ || st_.pending >= max) {
		st_.submit_failed++;
		return Error(draining_ ? err::eopnotsupp : err::eagain);
	}
	return {};
}

void Pernet::enqueue_locked(Request &req, u64 now) {
	lock_.assert_held();
	req.set_times(now);
	pending_[req.handler_class()].push_back(req);
	req.place = Place::Pending;
	st_.pending++;
	st_.inflight++;
	st_.submitted++;
	if (req.deadline_ms())
		arm_reaper_locked(req.deadline_ms(), now);
}

void Pernet::withdraw_locked(Request &req) {
	lock_.assert_held();
	req.retired = true;
	req.queue_link.unlink();
	req.place = Place::None;
	st_.pending--;
	st_.inflight--;
	st_.submitted--;
	st_.submit_failed++;
}

RequestRef Pernet::dequeue(u32 cls) {
	if (cls >= kClasses)
		return {};
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
		return RequestRef::adopt(req);
	}
	return {};
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

u32 Pernet::bucket_of(int status) {
	for (const auto &b : kStatusBuckets)
		if (b.status == status)
			return b.bucket;
	return TLSUP_ST_OTHER;
}

void Pernet::retire(Request &req, int status, Ending how, u64 now_ms) {
	LockGuard g(lock_);
	if (req.retired) {
		tlsup_shim_warn("tlsup: request retired twice");
		return;
	}
	req.retired = true;
	req.ended_how = how;
	req.ended_status = status;
	req.ended_ms = now_ms;
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
	case Ending::Withdrawn: // withdraw_locked() counts these
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
void Pernet::for_each_inflight_locked(Fn &&fn) {
	lock_.assert_held();
	for (auto &list : pending_)
		list.for_each_safe(fn);
	accepted_.for_each_safe(fn);
}

void Pernet::take_locked(Request &req, RequestList &batch) {
	lock_.assert_held();
	if (req.place == Place::Pending)
		st_.pending--;
	req.queue_link.unlink();
	req.place = Place::Batch;
	req.get();
	batch.push_back(req);
}

void Pernet::complete_batch(RequestList &batch, int status, Ending how) {
	for (;;) {
		Request *req;
		{
			LockGuard g(lock_);
			req = batch.pop_front();
			if (!req)
				return;
			req->place = Place::None;
		}
		req->complete(status, {}, how);
		req->put();
	}
}

void Pernet::reap() {
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

void Pernet::drain() {
	RequestList batch;
	{
		LockGuard g(lock_);
		draining_ = true;
		for_each_inflight_locked([&](Request &req) { take_locked(req, batch); });
	}
	// No new deadline can be armed now; wait out a running reaper.
	tlsup_shim_reaper_cancel_sync(shim_);
	complete_batch(batch, -err::etimedout, Ending::Drain);
}

void Pernet::stats(tlsup_stats &out) {
	const u32 max = tlsup_shim_max_pending();
	LockGuard g(lock_);
	out = st_;
	out.max_pending = max;
	out.live = live_.load();
	out.done_refused = done_refused_.load();
}

static const char *msg_type_name(u32 t) {
	return t == HANDSHAKE_MSG_TYPE_CLIENTHELLO ? "client" : "server";
}

static const char *auth_name(u32 a) {
	constexpr const char *names[] = {"unspec", "anon", "psk", "x509"};
	return a < kstd::size(names) ? names[a] : "?";
}

// Peernames name the hosts this machine talks to: only a reader with
// CAP_NET_ADMIN in the namespace sees them.
void Pernet::show_locked(tlsup_seq *seq, bool privileged, u64 now) {
	static constexpr const char *kBucketNames[TLSUP_ST_NR] = {
	        "ok",     "eacces", "enokey", "ekeyrejected", "etimedout",
	        "einval", "enomem", "eio",    "other",
	};
	const u32 max = tlsup_shim_max_pending();
	lock_.assert_held();
	tlsup_shim_seq_printf(seq, "submitted: %llu\n", st_.submitted);
	tlsup_shim_seq_printf(seq, "submit_failed: %llu\n", st_.submit_failed);
	tlsup_shim_seq_printf(seq, "accepted: %llu\n", st_.accepted);
	tlsup_shim_seq_printf(seq, "completed: %llu\n", st_.completed);
	for (u32 i = 0; i < TLSUP_ST_NR; i++)
		tlsup_shim_seq_printf(seq, "completed_%s: %llu\n", kBucketNames[i],
		                      st_.by_status[i]);
	tlsup_shim_seq_printf(seq, "cancelled: %llu\n", st_.cancelled);
	tlsup_shim_seq_printf(seq, "expired: %llu\n", st_.expired);
	tlsup_shim_seq_printf(seq, "done_refused: %llu\n",
	                      static_cast<unsigned long long>(done_refused_.load()));
	tlsup_shim_seq_printf(seq, "pending: %u\n", st_.pending);
	tlsup_shim_seq_printf(seq, "inflight: %u\n", st_.inflight);
	tlsup_shim_seq_printf(seq, "max_pending: %u\n", max);
	tlsup_shim_seq_printf(seq, "live: %u\n", live_.load());
	tlsup_shim_seq_printf(seq, "request_bytes: %u\n", static_cast<unsigned>(sizeof(Request)));
	tlsup_shim_seq_printf(seq, "requests:\n");
	// Every live request of the namespace, in publish order: in flight,
	// being ended, or ended and held by its socket (sk_unhook() takes it
	// off this list under this lock before the socket goes, so each
	// socket is valid here).
	for (Request &req : published_)
		show_request_locked(seq, req, privileged, now);
}

static const char *ending_name(Ending how) {
	switch (how) {
	case Ending::Done:
		return "done";
	case Ending::Cancel:
		return "cancel";
	case Ending::Expire:
		return "expire";
	case Ending::Drain:
		return "drain";
	case Ending::AcceptFailed:
		return "accept_failed";
	case Ending::Withdrawn:
		return "withdrawn";
	}
	return "?";
}

void Pernet::show_request_locked(tlsup_seq *seq, Request &req, bool privileged, u64 now) {
	lock_.assert_held();
	// Off the queues but not retired: taken by the reaper or the drain
	// (Batch), or dequeued after its completion was claimed (None).
	const char *state = req.retired                    ? "ended"
	                    : req.place == Place::Pending  ? "pending"
	                    : req.place == Place::Accepted ? "accepted"
	                                                   : "ending";
	const char *peer = req.peername();
	if (peer && !privileged)
		peer = "(hidden)";
	tlsup_shim_seq_printf(seq,
	                      "  id=%llu state=%s type=%s auth=%s age_ms=%llu "
	                      "timeout_ms=%u peername=%s",
	                      static_cast<unsigned long long>(req.id()), state,
	                      msg_type_name(req.msg_type()), auth_name(req.auth_mode()),
	                      static_cast<unsigned long long>(now - req.submit_ms()),
	                      req.timeout_ms(), peer ? peer : "-");
	if (req.retired) {
		// What keeps it: its socket (the index's reference, dropped by
		// sk_destruct), or a reference someone else still holds.
		tlsup_shim_seq_printf(seq, " ending=%s status=%d ended_ms=%llu refs=%d",
		                      ending_name(req.ended_how), req.ended_status,
		                      static_cast<unsigned long long>(now - req.ended_ms),
		                      req.refs());
		tlsup_shim_seq_sock(seq, req.sk());
	}
	tlsup_shim_seq_printf(seq, "\n");
}

} // namespace tlsup
