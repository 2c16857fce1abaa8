// SPDX-License-Identifier: GPL-2.0
// The handshake family's messages as the core sees them: the ACCEPT and DONE
// requests decoded from their attributes, and the ACCEPT reply encoded
// through the genl shim's attribute writer.
#pragma once

#include <tlsup/core.h>

#include "../kstd/expected.hpp"
#include "../kstd/span.hpp"
#include "../kstd/types.hpp"

namespace tlsup {

struct AcceptRequest {
	kstd::u32 handler_class;
};

struct DoneRequest {
	kstd::s32 sockfd;
	bool has_status;
	kstd::u32 status; // positive errno, <= MAX_ERRNO
	// REMOTE_AUTH serials in message order: the first TLSUP_MAX_PEERIDS are
	// kept, the rest only counted.
	kstd::u32 num_remote;
	kstd::s32 remote[TLSUP_MAX_PEERIDS];

	kstd::u32 kept_remote() const {
		return num_remote < TLSUP_MAX_PEERIDS ? num_remote : TLSUP_MAX_PEERIDS;
	}
	// What the consumer's callback gets: the negated status, -EIO if absent.
	int consumer_status() const;
};

kstd::Expected<AcceptRequest> decode_accept_request(kstd::Bytes attrs);
kstd::Expected<DoneRequest> decode_done_request(kstd::Bytes attrs);

// What an ACCEPT reply says about one request.
struct AcceptReply {
	int sockfd;
	kstd::u32 msg_type;
	const char *peername; // nullptr: omitted
	kstd::u32 timeout_ms; // 0: omitted
	kstd::u32 auth_mode;
	kstd::Span<const kstd::s32> peer_identities; // PSK only
	kstd::s32 cert;                              // x509 only; both 0: no nest
	kstd::s32 privkey;
	kstd::s32 keyring; // 0: omitted
};

// Writes the attributes in the order DESIGN §1 fixes; the caller sends.
kstd::Expected<void> encode_accept_reply(tlsup_nl_reply *reply, const AcceptReply &r);

} // namespace tlsup
