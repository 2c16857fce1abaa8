// SPDX-License-Identifier: GPL-2.0
// The core's entry points (tlsup_core_*): the request lifecycle of DESIGN §2
// on top of Request, NetState and SockIndex.
#include <tlsup/core.h>

#include "../../include/uapi/linux/handshake.h"
#include "../kstd/errno.hpp"
#include "messages.hpp"
#include "net_state.hpp"
#include "request.hpp"
#include "sock_index.hpp"

namespace tlsup {
namespace {

namespace err = kstd::err;
using kstd::Error;
using kstd::Expected;

// The only global: set once at module load, constant-initialised.
constinit SockIndex *g_index = nullptr;

// Undoes a submit that failed after the request was pinned and hooked: the
// destructor goes back before the pins are dropped, then the index's
// reference goes (remove() is a no-op if the request was never indexed).
void unwind_submit(Request &req) {
	tlsup_shim_sk_restore_destruct(req.sk(), req.orig_destruct());
	g_index->remove(req);
	req.unpin();
	req.put();
}

// READY to the class's group. netlink_has_listeners() is global across
// namespaces, so only the multicast itself can tell: -ESRCH means nobody in
// this namespace received it (no agent: the submit fails, as upstream). An
// agent that set NETLINK_BROADCAST_ERROR and whose queue overflowed makes it
// -ENOBUFS instead: that agent exists, sees the overrun and drains with
// ACCEPT until -EAGAIN, so the request stays queued.
int notify_ready(NetState &net, kstd::u32 cls, unsigned int gfp) {
	if (!tlsup_shim_has_listeners(net.knet(), cls))
		return -err::esrch;
	const int ret = tlsup_shim_notify_ready(net.knet(), cls, gfp);
	return ret == -err::enobufs ? 0 : ret;
}

Expected<void> submit(const tlsup_submit &args, unsigned int gfp) {
	Request *req = TRY(Request::create(args, kstd::Gfp{gfp}));
	NetState *net = reinterpret_cast<NetState *>(tlsup_shim_net_of(args.sk));
	if (!net) {
		kstd::destroy(req);
		return Error(err::eopnotsupp);
	}
	if (auto r = req->attach(net); !r) {
		kstd::destroy(req);
		return r.error();
	}

	// Pinned and hooked before anyone can find the request: a cancel (by
	// index) or an agent (by queue) may complete it, dropping the pins, the
	// moment it is visible. A second request on the socket hooks over the
	// first one's hook and restores it.
	req->pin();
	req->set_orig_destruct(tlsup_shim_sk_hook_destruct(req->sk()));

	if (auto r = g_index->insert(*req); !r) {
		tlsup_shim_trace(TLSUP_TRACE_SUBMIT_ERR, req->sk(), req->id(),
		                 r.error().to_kernel());
		net->count_submit_failed();
		unwind_submit(*req);
		return r.error();
	}

	if (auto r = net->enqueue(*req); !r) {
		tlsup_shim_trace(TLSUP_TRACE_SUBMIT_ERR, req->sk(), req->id(),
		                 r.error().to_kernel());
		net->count_submit_failed();
		unwind_submit(*req);
		return r.error();
	}

	const int notified = notify_ready(*net, req->handler_class(), gfp);
	if (notified < 0) {
		tlsup_shim_trace(TLSUP_TRACE_NOTIFY_ERR, req->sk(), req->id(), notified);
		// An agent that accepted it meanwhile owns it now: report success,
		// the callback will run.
		if (net->withdraw(*req) && req->abandon(notified)) {
			tlsup_shim_trace(TLSUP_TRACE_SUBMIT_ERR, req->sk(), req->id(), notified);
			unwind_submit(*req);
			return Error(-notified);
		}
	}
	tlsup_shim_trace(TLSUP_TRACE_SUBMIT, req->sk(), req->id(), 0);
	return {};
}

// Anything that fails once the request left the queue completes it with -EIO.
int accept(NetState &net, kstd::Bytes attrs, tlsup_nl_reply *reply) {
	auto decoded = decode_accept_request(attrs);
	if (!decoded) {
		tlsup_shim_trace(TLSUP_TRACE_CMD_ACCEPT_ERR, nullptr, 0,
		                 decoded.error().to_kernel());
		return decoded.error().to_kernel();
	}
	Request *req = net.dequeue(decoded->handler_class);
	if (!req) {
		tlsup_shim_trace(TLSUP_TRACE_CMD_ACCEPT_ERR, nullptr, 0, -err::eagain);
		return -err::eagain;
	}

	int ret;
	const int fd = tlsup_shim_fd_reserve();
	if (fd < 0) {
		ret = fd;
		goto fail;
	}
	if (req->keyring()) {
		ret = tlsup_shim_keyring_link(req->keyring());
		if (ret < 0)
			goto fail_fd;
	}
	ret = tlsup_nl_reply_begin(reply);
	if (ret < 0)
		goto fail_fd;
	{
		AcceptReply r{
		        .sockfd = fd,
		        .msg_type = req->msg_type(),
		        .peername = req->peername(),
		        .timeout_ms = req->timeout_ms(),
		        .auth_mode = req->auth_mode(),
		        .peer_identities = req->peerids(),
		        .cert = req->cert(),
		        .privkey = req->privkey(),
		        .keyring = req->keyring(),
		};
		if (auto e = encode_accept_reply(reply, r); !e) {
			tlsup_nl_reply_abort(reply);
			ret = e.error().to_kernel();
			goto fail_fd;
		}
	}
	ret = tlsup_nl_reply_send(reply);
	if (ret < 0)
		goto fail_fd;

	// Live only now that the agent has the reply; consumes the extra ref.
	tlsup_shim_fd_install(fd, req->file());
	tlsup_shim_trace(TLSUP_TRACE_CMD_ACCEPT, req->sk(), req->id(), fd);
	req->put();
	return 0;

fail_fd:
	tlsup_shim_fd_unreserve(fd);
fail:
	tlsup_shim_file_put(req->file());
	tlsup_shim_trace(TLSUP_TRACE_CMD_ACCEPT_ERR, req->sk(), req->id(), ret);
	req->complete(-err::eio, {}, Ending::AcceptFailed);
	req->put();
	return ret;
}

int done(NetState &net, kstd::Bytes attrs) {
	auto decoded = decode_done_request(attrs);
	if (!decoded) {
		tlsup_shim_trace(TLSUP_TRACE_CMD_DONE_ERR, nullptr, 0, decoded.error().to_kernel());
		net.count_done_refused();
		return decoded.error().to_kernel();
	}
	const DoneRequest &d = *decoded;

	tlsup_ksock *sk = nullptr;
	int ret = 0;
	tlsup_ksocket *sock = tlsup_shim_sockfd_get(d.sockfd, &sk, &ret);
	if (!sock) {
		tlsup_shim_trace(TLSUP_TRACE_CMD_DONE_ERR, nullptr, 0, ret);
		net.count_done_refused();
		return ret;
	}
	Request *req = g_index->lookup(sk);
	if (!req || !req->accepted()) {
		// No request, or one no agent accepted: not the caller's to end.
		tlsup_shim_trace(TLSUP_TRACE_CMD_DONE_ERR, sk, req ? req->id() : 0, -err::ebusy);
		net.count_done_refused();
		if (req)
			req->put();
		tlsup_shim_sockfd_put(sock);
		return -err::ebusy;
	}
	tlsup_shim_trace(TLSUP_TRACE_CMD_DONE, sk, req->id(), d.sockfd);
	// A second DONE finds the request completed: a no-op, as upstream.
	req->complete(d.consumer_status(), {d.remote, d.kept_remote()}, Ending::Done);
	req->put();
	tlsup_shim_sockfd_put(sock);
	return 0;
}

bool cancel(tlsup_ksock *sk) {
	Request *req = g_index->lookup(sk);
	if (!req) {
		tlsup_shim_trace(TLSUP_TRACE_CANCEL_NONE, sk, 0, 0);
		return false;
	}
	bool cancelled = req->complete(0, {}, Ending::Cancel);
	if (!cancelled) {
		// Asked again after a cancel that won: still true, nothing runs.
		cancelled = req->cancelled();
		if (!cancelled)
			tlsup_shim_trace(TLSUP_TRACE_CANCEL_BUSY, sk, req->id(), 0);
	}
	req->put();
	return cancelled;
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

tlsup_net *tlsup_core_net_create(tlsup_knet *knet) {
	return reinterpret_cast<tlsup_net *>(NetState::create(knet));
}

void tlsup_core_net_exit(tlsup_net *net) {
	auto *n = reinterpret_cast<NetState *>(net);
	n->drain();
	n->put();
}

void tlsup_core_net_reap(tlsup_net *net) {
	reinterpret_cast<NetState *>(net)->reap();
}

void tlsup_core_net_stats(tlsup_net *net, tlsup_stats *out) {
	reinterpret_cast<NetState *>(net)->stats(*out);
}

void tlsup_core_net_show(tlsup_net *net, tlsup_seq *seq) {
	reinterpret_cast<NetState *>(net)->show(seq);
}

int tlsup_core_submit(const tlsup_submit *args, unsigned int gfp) {
	return kstd::to_kernel_status(submit(*args, gfp));
}

bool tlsup_core_cancel(tlsup_ksock *sk) {
	return cancel(sk);
}

bool tlsup_core_take_session(tlsup_ksock *sk) {
	Request *req = g_index->lookup(sk);
	if (!req)
		return false;
	const bool had = req->take_session();
	req->put();
	return had;
}

tlsup_req *tlsup_core_sk_unhook(tlsup_ksock *sk, void **orig) {
	Request *req = g_index->remove(sk);
	*orig = nullptr;
	if (!req) {
		// The hook is installed only together with a request.
		tlsup_shim_warn("tlsup: sk_destruct without a request");
		return nullptr;
	}
	if (!req->completed())
		tlsup_shim_warn("tlsup: socket destroyed under a live request");
	tlsup_shim_trace(TLSUP_TRACE_DESTRUCT, sk, req->id(), 0);
	*orig = req->orig_destruct();
	return reinterpret_cast<tlsup_req *>(req);
}

void tlsup_core_req_release(tlsup_req *req) {
	if (req)
		reinterpret_cast<Request *>(req)->put();
}

int tlsup_core_cmd_accept(tlsup_net *net, const void *attrs, unsigned int len,
                          tlsup_nl_reply *reply) {
	return accept(*reinterpret_cast<NetState *>(net),
	              kstd::Bytes(static_cast<const kstd::u8 *>(attrs), len), reply);
}

int tlsup_core_cmd_done(tlsup_net *net, const void *attrs, unsigned int len) {
	return done(*reinterpret_cast<NetState *>(net),
	            kstd::Bytes(static_cast<const kstd::u8 *>(attrs), len));
}

} // extern "C"
