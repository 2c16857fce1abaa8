// SPDX-License-Identifier: GPL-2.0
//
// The "handshake" genl family's ACCEPT reply and DONE request, as plain
// data, with a decoder and an encoder that touch no socket: the fuzz target
// and the unit tests drive them directly.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "result.hpp"

namespace tlsup {

constexpr size_t kMaxPeerIdentities = 16;
constexpr size_t kMaxCertificates = 16;
constexpr size_t kMaxPeernameLength = 1024;

struct CertificatePair {
	int32_t cert = 0;    // key serial holding a DER certificate; 0 = none
	int32_t privkey = 0; // key serial holding a DER private key; 0 = none
};

// Everything an ACCEPT reply can carry (the kernel core's struct
// tlsup_accept_reply). Absent attributes keep the defaults.
struct AcceptReply {
	int32_t sockfd = -1;
	uint32_t message_type = 0; // HANDSHAKE_MSG_TYPE_*
	uint32_t auth_mode = 0;    // HANDSHAKE_AUTH_*
	std::optional<std::string> peername;
	uint32_t timeout_ms = 0; // 0 = not sent
	std::vector<int32_t> peer_identities;
	std::vector<CertificatePair> certificates;
	int32_t keyring = 0;
};

struct AcceptDecode {
	AcceptReply request;
	// Set when the attributes are malformed; request.sockfd is still filled
	// in when SOCKFD came before the damage, so the request can be
	// completed with EINVAL instead of being stranded.
	std::optional<Error> error;
};

// Decodes the attribute stream that follows the genl header of an ACCEPT
// reply. Unknown attribute types are skipped, like the kernel's nla_parse.
AcceptDecode decode_accept(std::span<const uint8_t> attrs);

// The request-parameter rules of DESIGN §4 (EINVAL when broken).
Result<void> validate_request(const AcceptReply &req);

// A DONE request (the kernel core's struct tlsup_done_cmd).
struct DoneCommand {
	int32_t sockfd = -1;
	uint32_t status = 0; // positive errno, 0 = success
	std::vector<uint32_t> remote_auth;
};

// The attribute stream of a DONE request: STATUS, SOCKFD, REMOTE_AUTH × n.
std::vector<uint8_t> encode_done(const DoneCommand &done);

// The READY notification's handler class, or nullopt when absent/malformed.
std::optional<uint32_t> decode_ready_class(std::span<const uint8_t> attrs);

} // namespace tlsup
