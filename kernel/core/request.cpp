// SPDX-License-Identifier: GPL-2.0
#include "request.hpp"

#include "../kstd/errno.hpp"
#include "pernet.hpp"

namespace tlsup {

using kstd::Error;
using kstd::Expected;
namespace err = kstd::err;

Expected<void> validate_submit(const tlsup_submit &a) {
	if (!a.has_sock || !a.file || !a.sk || !a.done)
		return Error(err::einval);
	if (a.msg_type != HANDSHAKE_MSG_TYPE_CLIENTHELLO &&
	    a.msg_type != HANDSHAKE_MSG_TYPE_SERVERHELLO)
		return Error(err::einval);
	switch (a.auth_mode) {
	case HANDSHAKE_AUTH_UNAUTH:
		// Only a client may go without credentials.
		if (a.msg_type != HANDSHAKE_MSG_TYPE_CLIENTHELLO)
			return Error(err::einval);
		break;
	case HANDSHAKE_AUTH_PSK:
		// A server uses ta_my_peerids[0] whatever the count, as upstream.
		if (a.msg_type == HANDSHAKE_MSG_TYPE_CLIENTHELLO &&
		    (a.num_peerids == 0 || a.num_peerids > TLSUP_MAX_PEERIDS))
			return Error(err::einval);
		break;
	case HANDSHAKE_AUTH_X509:
		break;
	default:
		return Error(err::einval);
	}
	if (a.peername) {
		kstd::usize n = 0;
		while (n <= TLSUP_PEERNAME_MAX && a.peername[n])
			n++;
		if (n > TLSUP_PEERNAME_MAX)
			return Error(err::einval);
	}
	return {};
}

Expected<RequestRef> Request::create(const tlsup_submit &a, kstd::Gfp gfp, Pernet &pn) {
	// Until a request owns it, the namespace reference is dropped here.
	auto pn_ref = kstd::RefPtr<Pernet>::adopt(&pn);
	TRY(validate_submit(a));
	// Our sk_destruct hook is module text: the module stays until the
	// request is freed.
	if (!tlsup_shim_module_get())
		return Error(err::eopnotsupp);

	Request *r = new (gfp) Request(pn);
	if (!r) {
		tlsup_shim_module_put();
		return Error(err::enomem);
	}
	(void)pn_ref.release(); // the request's now
	r->sk_ = a.sk;
	r->file_ = a.file;
	r->done_ = a.done;
	r->data_ = a.data;
	r->msg_type_ = a.msg_type;
	r->auth_mode_ = a.auth_mode;
	r->timeout_ms_ = a.timeout_ms;
	r->keyring_ = a.keyring;
	if (a.auth_mode == HANDSHAKE_AUTH_X509) {
		r->cert_ = a.cert;
		r->privkey_ = a.privkey;
	} else if (a.auth_mode == HANDSHAKE_AUTH_PSK) {
		r->num_peerids_ = a.msg_type == HANDSHAKE_MSG_TYPE_CLIENTHELLO ? a.num_peerids : 1;
		for (kstd::u32 i = 0; i < r->num_peerids_; i++)
			r->peerids_[i] = a.peerids[i];
	}
	// Copied: the consumer's string need not outlive the call.
	if (a.peername) {
		r->has_peername_ = true;
		for (kstd::usize i = 0; a.peername[i]; i++)
			r->peername_[i] = a.peername[i];
	}
	r->id_ = pn.next_request_id();
	pn.count_request_alive(true);
	return RequestRef::adopt(r);
}

tlsup_accept_reply Request::accept_reply(int sockfd) const {
	tlsup_accept_reply r{};
	r.sockfd = sockfd;
	r.msg_type = msg_type_;
	r.peername = peername();
	r.timeout_ms = timeout_ms_;
	r.auth_mode = auth_mode_;
	r.num_peerids = num_peerids_;
	for (kstd::u32 i = 0; i < num_peerids_; i++)
		r.peerids[i] = peerids_[i];
	r.cert = cert_;
	r.privkey = privkey_;
	r.keyring = keyring_;
	return r;
}

void Request::set_times(kstd::u64 now_ms) {
	submit_ms_ = now_ms;
	deadline_ms_ = timeout_ms_ ? now_ms + timeout_ms_ + TLSUP_DEADLINE_GRACE_MS : 0;
}

void Request::put() {
	if (!refs_.put())
		return;
	// The index's reference is the last to go, after sk_unhook() or
	// unpublish() took the request off its namespace's list.
	if (live_link.linked())
		tlsup_shim_warn("tlsup: request freed while listed");
	Pernet *pn = pernet_;
	kstd::destroy(this);
	pn->count_request_alive(false);
	pn->put();
	// Last: the module may go once this returns (see kernel/shim/sock.c).
	tlsup_shim_module_put();
}

void Request::pin() {
	tlsup_shim_file_get(file_);
	tlsup_shim_sock_hold(sk_);
}

void Request::unpin() {
	tlsup_shim_sock_put(sk_);
	tlsup_shim_file_put(file_);
}

bool Request::claim(kstd::u32 bits) {
	kstd::u32 old = flags_.load();
	do {
		if (old & kCompleted)
			return false;
	} while (!flags_.compare_exchange(old, old | kCompleted | bits));
	return true;
}

bool Request::complete(int status, kstd::Span<const kstd::s32> remote, Ending how) {
	kstd::u32 bits = 0;
	if (how == Ending::Cancel)
		bits |= kCancelled;
	if (how == Ending::Done && status == 0)
		bits |= kSession;
	if (!claim(bits))
		return false;

	pernet_->retire(*this, status, how, tlsup_shim_now_ms());
	// Only the winner traces: it holds the pins that keep sk_ alive.
	if (how == Ending::Expire)
		tlsup_shim_trace(TLSUP_TRACE_EXPIRE, sk_, id_, status);
	tlsup_shim_trace(how == Ending::Cancel ? TLSUP_TRACE_CANCEL : TLSUP_TRACE_COMPLETE, sk_,
	                 id_, status);
	if (how != Ending::Cancel)
		done_(data_, status, remote.empty() ? 0 : remote[0]);
	unpin();
	return true;
}

bool Request::claim_withdrawn() {
	return claim(0);
}

} // namespace tlsup
