// SPDX-License-Identifier: GPL-2.0
#include "messages.hpp"

#include "../../include/uapi/linux/handshake.h"
#include "../kstd/errno.hpp"
#include "nl_attr.hpp"

namespace tlsup {

using kstd::Error;
using kstd::Expected;
namespace err = kstd::err;

int DoneRequest::consumer_status() const {
	return has_status ? -static_cast<int>(status) : -err::eio;
}

// genetlink's strict policy already refuses all of these; decoding them again
// here keeps the core correct on its own and lets the fuzzer reach it.
Expected<AcceptRequest> decode_accept_request(kstd::Bytes attrs) {
	nl::AttrReader rd(attrs);
	nl::Attr a;
	bool has_class = false;
	AcceptRequest out{};
	while (rd.next(a)) {
		if (a.type != HANDSHAKE_A_ACCEPT_HANDLER_CLASS || !a.is_u32() || a.nested)
			return Error(err::einval);
		out.handler_class = a.as_u32();
		has_class = true;
	}
	if (!rd.ok() || !has_class)
		return Error(err::einval);
	// Out of range: what NLA_POLICY_MAX answers, as upstream.
	if (out.handler_class > HANDSHAKE_HANDLER_CLASS_MAX)
		return Error(err::erange);
	return out;
}

Expected<DoneRequest> decode_done_request(kstd::Bytes attrs) {
	nl::AttrReader rd(attrs);
	nl::Attr a;
	bool has_fd = false;
	DoneRequest out{};
	while (rd.next(a)) {
		if (a.nested)
			return Error(err::einval);
		switch (a.type) {
		case HANDSHAKE_A_DONE_STATUS:
			if (!a.is_u32())
				return Error(err::einval);
			if (a.as_u32() > static_cast<kstd::u32>(err::max_errno))
				return Error(err::erange);
			out.status = a.as_u32();
			out.has_status = true;
			break;
		case HANDSHAKE_A_DONE_SOCKFD:
			if (!a.is_u32())
				return Error(err::einval);
			out.sockfd = a.as_s32();
			has_fd = true;
			break;
		case HANDSHAKE_A_DONE_REMOTE_AUTH:
			if (!a.is_u32())
				return Error(err::einval);
			if (out.num_remote < TLSUP_MAX_PEERIDS)
				out.remote[out.num_remote] = a.as_s32();
			if (out.num_remote < 0xffffffffu)
				out.num_remote++;
			break;
		case HANDSHAKE_A_DONE_TAG:
			// Accepted and ignored, as upstream does.
			if (!a.is_cstring())
				return Error(err::einval);
			break;
		default:
			return Error(err::einval);
		}
	}
	if (!rd.ok() || !has_fd)
		return Error(err::einval);
	return out;
}

static Expected<void> check(int ret) {
	if (ret < 0)
		return Error(-ret);
	return {};
}

Expected<void> encode_accept_reply(tlsup_nl_reply *reply, const AcceptReply &r) {
	TRY(check(tlsup_nl_put_s32(reply, HANDSHAKE_A_ACCEPT_SOCKFD, r.sockfd)));
	TRY(check(tlsup_nl_put_u32(reply, HANDSHAKE_A_ACCEPT_MESSAGE_TYPE, r.msg_type)));
	if (r.peername)
		TRY(check(tlsup_nl_put_string(reply, HANDSHAKE_A_ACCEPT_PEERNAME, r.peername)));
	if (r.timeout_ms)
		TRY(check(tlsup_nl_put_u32(reply, HANDSHAKE_A_ACCEPT_TIMEOUT, r.timeout_ms)));
	TRY(check(tlsup_nl_put_u32(reply, HANDSHAKE_A_ACCEPT_AUTH_MODE, r.auth_mode)));
	if (r.auth_mode == HANDSHAKE_AUTH_PSK) {
		for (kstd::s32 id : r.peer_identities)
			TRY(check(tlsup_nl_put_u32(reply, HANDSHAKE_A_ACCEPT_PEER_IDENTITY,
			                           static_cast<kstd::u32>(id))));
	} else if (r.auth_mode == HANDSHAKE_AUTH_X509 && (r.cert || r.privkey)) {
		TRY(check(tlsup_nl_nest_start(reply, HANDSHAKE_A_ACCEPT_CERTIFICATE)));
		TRY(check(tlsup_nl_put_s32(reply, HANDSHAKE_A_X509_CERT, r.cert)));
		TRY(check(tlsup_nl_put_s32(reply, HANDSHAKE_A_X509_PRIVKEY, r.privkey)));
		tlsup_nl_nest_end(reply);
	}
	if (r.keyring)
		TRY(check(tlsup_nl_put_u32(reply, HANDSHAKE_A_ACCEPT_KEYRING,
		                           static_cast<kstd::u32>(r.keyring))));
	return {};
}

} // namespace tlsup
