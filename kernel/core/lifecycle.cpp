// SPDX-License-Identifier: GPL-2.0
// The request lifecycle of DESIGN §2, and the core's C entry points
// (tlsup_core_*): submit, ACCEPT, DONE, cancel, socket destruction and
// namespace exit, on top of Request, Pernet and SockIndex.
#include <tlsup/core.h>

#include "../kstd/errno.hpp"
#include "pernet.hpp"
#include "request.hpp"
#include "sock_index.hpp"

namespace tlsup {
namespace {

namespace err = kstd::err;
using kstd::Error;
using kstd::Expected;

// The only global: set once at module load, constant-initialised.
constinit SockIndex *g_index = nullptr;

// Makes a pinned request visible to everyone at once: indexed (cancel,
// DONE and sk_destruct find it), queued (ACCEPT, the reaper and the drain
// find it) and hooked into sk_destruct, under both locks, or not at all.
// Nothing can see a request that is indexed but not queued, so nobody can
// complete a request that a failing submit is about to unwind.
Expected<void> publish(Request &req) {
	Pernet &pn = req.pernet();
	const kstd::u32 max = tlsup_shim_max_pending();
	const kstd::u64 now = tlsup_shim_now_ms();
	LockGuard gi(g_index->lock());
	LockGuard gp(pn.lock());
	if (g_index->contains_locked(req.sk())) {
		pn.count_submit_failed_locked();
		return Error(err::ebusy);
	}
	TRY(pn.check_room_locked(max));
	req.set_orig_destruct(tlsup_shim_sk_hook_destruct(req.sk()));
	req.get(); // the index's
	g_index->insert_locked(req);
	pn.link_published_locked(req);
	pn.enqueue_locked(req, now);
	return {};
}

// Takes a published request back after READY failed, unless an agent or a
// canceller got to it first (then it is theirs, and the submit succeeded).
// Claims the completion before undoing anything, under both locks.
bool unpublish(Request &req) {
	Pernet &pn = req.pernet();
	LockGuard gi(g_index->lock());
	LockGuard gp(pn.lock());
	if (req.place != Place::Pending || !req.claim_withdrawn())
		return false;
	pn.withdraw_locked(req);
	pn.unlink_published_locked(req);
	tlsup_shim_sk_restore_destruct(req.sk(), req.orig_destruct());
	g_index->remove_locked(req);
	return true;
}

Expected<void> submit(Pernet &pn, const tlsup_submit &args, unsigned int gfp) {
	RequestRef req = TRY(Request::create(args, kstd::Gfp{gfp}, pn));

	// Pinned before anyone can find the request: a cancel (by index) or an
	// agent (by queue) may complete it, dropping the pins, the moment it
	// is visible.
	req->pin();
	if (auto r = publish(*req); !r) {
		req->unpin();
		tlsup_shim_trace(TLSUP_TRACE_SUBMIT_ERR, req->sk(), req->id(),
		                 r.error().to_kernel());
		return r.error();
	}

	const int notified =
	        tlsup_shim_notify_ready(req->pernet().shim(), req->handler_class(), gfp);
	if (notified < 0) {
		tlsup_shim_trace(TLSUP_TRACE_NOTIFY_ERR, req->sk(), req->id(), notified);
		if (unpublish(*req)) {
			req->unpin();
			req->put(); // the index's
			tlsup_shim_trace(TLSUP_TRACE_SUBMIT_ERR, req->sk(), req->id(), notified);
			return Error(-notified);
		}
		// An agent that accepted it meanwhile, or a canceller, owns it
		// now: the submit succeeded.
	}
	tlsup_shim_trace(TLSUP_TRACE_SUBMIT, req->sk(), req->id(), 0);
	return {};
}

// ACCEPT's side effects in the agent's process, undone unless the reply
// went out: then the descriptor goes live and the request is the agent's.
class Handout {
public:
	explicit Handout(RequestRef req) : req_(kstd::move(req)) {}
	Handout(const Handout &) = delete;
	Handout &operator=(const Handout &) = delete;

	~Handout() {
		if (!req_)
			return;
		// Anything that fails once the request left the queue completes
		// it with -EIO.
		// Traced while the extra file reference still keeps the socket:
		// a cancel may have dropped the pins meanwhile.
		tlsup_shim_trace(TLSUP_TRACE_CMD_ACCEPT_ERR, req_->sk(), req_->id(), error_);
		if (linked_)
			tlsup_shim_keyring_release(req_->keyring(), false);
		if (fd_ >= 0)
			tlsup_shim_fd_unreserve(fd_);
		tlsup_shim_file_put(req_->file());
		req_->complete(-err::eio, {}, Ending::AcceptFailed);
	}

	Expected<void> reserve_fd() {
		const int fd = tlsup_shim_fd_reserve();
		if (fd < 0)
			return fail(fd);
		fd_ = fd;
		return {};
	}

	// The consumer's keyring, into the agent's process keyring.
	Expected<void> link_keyring() {
		if (!req_->keyring())
			return {};
		if (const int ret = tlsup_shim_keyring_link(req_->keyring()); ret < 0)
			return fail(ret);
		linked_ = true;
		return {};
	}

	Expected<void> send(tlsup_nl_reply *reply) {
		const tlsup_accept_reply r = req_->accept_reply(fd_);
		if (const int ret = tlsup_shim_accept_reply(reply, &r); ret < 0)
			return fail(ret);
		return {};
	}

	// Live only now that the agent has the reply; consumes the extra file
	// reference dequeue() took.
	void commit() {
		if (linked_)
			tlsup_shim_keyring_release(req_->keyring(), true);
		// Before the descriptor is live: once it is, the agent may end the
		// request and the consumer free the socket.
		tlsup_shim_trace(TLSUP_TRACE_CMD_ACCEPT, req_->sk(), req_->id(), fd_);
		tlsup_shim_fd_install(fd_, req_->file());
		req_.reset();
	}

private:
	Error fail(int ret) {
		error_ = ret;
		return Error(-ret);
	}

	RequestRef req_;
	int fd_ = -1;
	bool linked_ = false;
	int error_ = 0;
};

Expected<void> accept(Pernet &pn, const tlsup_accept_cmd &cmd, tlsup_nl_reply *reply) {
	RequestRef req = pn.dequeue(cmd.handler_class);
	if (!req) {
		tlsup_shim_trace(TLSUP_TRACE_CMD_ACCEPT_ERR, nullptr, 0, -err::eagain);
		return Error(err::eagain);
	}
	Handout h(kstd::move(req));
	TRY(h.reserve_fd());
	TRY(h.link_keyring());
	TRY(h.send(reply));
	h.commit();
	return {};
}

// The socket behind a DONE's descriptor, for the length of the command.
class SockfdRef {
public:
	SockfdRef(const SockfdRef &) = delete;
	SockfdRef &operator=(const SockfdRef &) = delete;
	SockfdRef(SockfdRef &&o) noexcept : sock_(kstd::exchange(o.sock_, nullptr)), sk_(o.sk_) {}
	~SockfdRef() {
		if (sock_)
			tlsup_shim_sockfd_put(sock_);
	}

	static Expected<SockfdRef> get(int fd) {
		tlsup_ksock *sk = nullptr;
		int ret = 0;
		tlsup_ksocket *sock = tlsup_shim_sockfd_get(fd, &sk, &ret);
		if (!sock)
			return Error(-ret);
		return SockfdRef(sock, sk);
	}
	tlsup_ksock *sk() const { return sk_; }

private:
	SockfdRef(tlsup_ksocket *sock, tlsup_ksock *sk) : sock_(sock), sk_(sk) {}

	tlsup_ksocket *sock_;
	tlsup_ksock *sk_;
};

Expected<void> done(Pernet &pn, const tlsup_done_cmd &cmd) {
	auto sock = SockfdRef::get(cmd.sockfd);
	if (!sock) {
		tlsup_shim_trace(TLSUP_TRACE_CMD_DONE_ERR, nullptr, 0, sock.error().to_kernel());
		pn.count_done_refused();
		return sock.error();
	}
	RequestRef req = g_index->lookup(sock->sk());
	// No request, one no agent accepted, or one of another namespace: not
	// the caller's to end.
	if (!req || &req->pernet() != &pn || !req->accepted()) {
		tlsup_shim_trace(TLSUP_TRACE_CMD_DONE_ERR, sock->sk(), req ? req->id() : 0,
		                 -err::ebusy);
		pn.count_done_refused();
		return Error(err::ebusy);
	}
	tlsup_shim_trace(TLSUP_TRACE_CMD_DONE, sock->sk(), req->id(), cmd.sockfd);
	const int status = cmd.has_status ? -static_cast<int>(cmd.status) : -err::eio;
	const kstd::u32 kept = kstd::min<kstd::u32>(cmd.num_remote, TLSUP_MAX_PEERIDS);
	// A second DONE finds the request completed: a no-op, as upstream.
	req->complete(status, {cmd.remote, kept}, Ending::Done);
	return {};
}

bool cancel(tlsup_ksock *sk) {
	RequestRef req = g_index->lookup(sk);
	if (!req) {
		tlsup_shim_trace(TLSUP_TRACE_CANCEL_NONE, sk, 0, 0);
		return false;
	}
	if (req->complete(0, {}, Ending::Cancel))
		return true;
	// Asked again after a cancel that won: still true, nothing runs.
	if (req->cancelled())
		return true;
	tlsup_shim_trace(TLSUP_TRACE_CANCEL_BUSY, sk, req->id(), 0);
	return false;
}

Pernet *from_c(tlsup_core_pernet *cpn) {
	return reinterpret_cast<Pernet *>(cpn);
}

} // namespace
} // namespace tlsup

using namespace tlsup;

extern "C" {

int tlsup_core_init(void) {
	g_index = SockIndex::create();
	return g_index ? 0 : -kstd::err::enomem;
}

void tlsup_core_exit(void) {
	// Every request holds a module reference: none can be left.
	if (!g_index->empty())
		tlsup_shim_warn("tlsup: requests left at module exit");
	g_index->destroy();
	g_index = nullptr;
}

tlsup_core_pernet *tlsup_core_pernet_create(tlsup_pernet *pn) {
	return reinterpret_cast<tlsup_core_pernet *>(Pernet::create(pn));
}

void tlsup_core_pernet_exit(tlsup_core_pernet *cpn) {
	Pernet *pn = from_c(cpn);
	pn->drain();
	pn->put();
}

void tlsup_core_pernet_get(tlsup_core_pernet *cpn) {
	from_c(cpn)->get();
}

void tlsup_core_pernet_put(tlsup_core_pernet *cpn) {
	from_c(cpn)->put();
}

void tlsup_core_pernet_reap(tlsup_core_pernet *cpn) {
	from_c(cpn)->reap();
}

void tlsup_core_pernet_stats(tlsup_core_pernet *cpn, tlsup_stats *out) {
	from_c(cpn)->stats(*out);
}

void tlsup_core_pernet_show(tlsup_core_pernet *cpn, tlsup_seq *seq, bool privileged) {
	Pernet &pn = *from_c(cpn);
	// One snapshot under the namespace's lock alone (a reader of one
	// namespace holds nothing another needs): every published request is
	// on its list, listed once. The clock is read under it: every time a
	// request carries was read before its writer took this lock, so none
	// is later than this.
	LockGuard gp(pn.lock());
	const kstd::u64 now = tlsup_shim_now_ms();
	pn.show_locked(seq, privileged, now);
}

int tlsup_core_submit(tlsup_core_pernet *cpn, const tlsup_submit *args, unsigned int gfp) {
	return kstd::to_kernel_status(submit(*from_c(cpn), *args, gfp));
}

bool tlsup_core_cancel(tlsup_ksock *sk) {
	return cancel(sk);
}

bool tlsup_core_take_session(tlsup_ksock *sk) {
	RequestRef req = g_index->lookup(sk);
	return req && req->take_session();
}

tlsup_req *tlsup_core_sk_unhook(tlsup_ksock *sk, void **orig) {
	Request *req = g_index->remove(sk);
	*orig = nullptr;
	if (!req) {
		// The hook and the index entry come and go together under the
		// index lock: a hooked socket without a request is a bug.
		tlsup_shim_warn("tlsup: sk_destruct without a request");
		return nullptr;
	}
	if (!req->completed())
		tlsup_shim_warn("tlsup: socket destroyed under a live request");
	// Off /proc/net/tlsup's list before the socket is torn down: a reader
	// holding the namespace's lock may be printing it.
	req->pernet().unlink_published(*req);
	tlsup_shim_trace(TLSUP_TRACE_DESTRUCT, sk, req->id(), 0);
	*orig = req->orig_destruct();
	return reinterpret_cast<tlsup_req *>(req);
}

void tlsup_core_req_release(tlsup_req *req) {
	if (req)
		reinterpret_cast<Request *>(req)->put();
}

int tlsup_core_cmd_accept(tlsup_core_pernet *cpn, const tlsup_accept_cmd *cmd,
                          tlsup_nl_reply *reply) {
	return kstd::to_kernel_status(accept(*from_c(cpn), *cmd, reply));
}

int tlsup_core_cmd_done(tlsup_core_pernet *cpn, const tlsup_done_cmd *cmd) {
	return kstd::to_kernel_status(done(*from_c(cpn), *cmd));
}

} // extern "C"
