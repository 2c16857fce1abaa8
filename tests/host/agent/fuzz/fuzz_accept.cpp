// SPDX-License-Identifier: GPL-2.0
//
// libFuzzer: the ACCEPT reply decoder (and the READY decoder) on arbitrary
// attribute streams. Decoding must never read out of bounds, and a decoded
// request must hold to the limits the decoder promises.
#include <cstdlib>

#include "netlink_messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::span<const uint8_t> in(data, size);
	auto d = tlsup::decode_accept(in);
	const auto &r = d.request;
	if (r.peer_identities.size() > tlsup::kMaxPeerIdentities ||
	    r.certificates.size() > tlsup::kMaxCertificates ||
	    (r.peername && (r.peername->empty() || r.peername->size() > tlsup::kMaxPeernameLength)))
		std::abort();
	if (!d.error && r.sockfd < 0)
		std::abort(); // a request without a socket must be an error
	(void)tlsup::validate_request(r);
	(void)tlsup::decode_ready_class(in);
	// DONE encoding of whatever was decoded round-trips its size.
	tlsup::DoneCommand m{r.sockfd, r.auth_mode, {}};
	for (int32_t id : r.peer_identities)
		m.remote_auth.push_back(static_cast<uint32_t>(id));
	if (tlsup::encode_done(m).size() != 16 + 8 * m.remote_auth.size())
		std::abort();
	return 0;
}
