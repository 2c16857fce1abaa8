// SPDX-License-Identifier: GPL-2.0
#include "priorities.hpp"

#include <string>

namespace tlsup {

namespace {

// System-wide policy first ("SECURE256:+SECURE128", as ktls-utils), then
// TLS 1.3 alone and only the ciphers the kernel's TLS implements.
//
// Groups: X25519 first. SECURE256 alone orders P-384, P-521 and FFDHE8192
// first, and a client computes a key share for each of its top two groups
// of different kinds: two expensive shares per handshake that an X25519
// server discards (measured: ~11% of the agent's instructions). With
// GNUTLS_KEY_SHARE_TOP (the engine's client flags) the client sends the
// X25519 share only; a server without X25519 costs one HelloRetryRequest.
constexpr const char *kPolicy = "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:-COMP-ALL:"
                                "%NO_TICKETS:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
                                "+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:-CIPHER-ALL";
constexpr const char *kCiphersAll = ":+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AES-128-CCM";
constexpr const char *kCiphersSha256 = ":+AES-128-GCM:+CHACHA20-POLY1305:+AES-128-CCM";
constexpr const char *kCiphersSha384 = ":+AES-256-GCM";
constexpr const char *kPskExchange = ":+ECDHE-PSK:+DHE-PSK:+PSK";

Result<Priority> make_priority(const std::string &text) {
	gnutls_priority_t p = nullptr;
	const char *err = nullptr;
	int ret = gnutls_priority_init(&p, text.c_str(), &err);
	if (ret < 0)
		return make_error(EIO, "priority string rejected at '%s': %s", err ? err : "?",
		                  gnutls_strerror(ret));
	return Priority(p);
}

} // namespace

Result<std::unique_ptr<Priorities>> Priorities::create() {
	auto p = std::unique_ptr<Priorities>(new Priorities());
	std::string base = kPolicy;
	p->x509_ = TRY(make_priority(base + kCiphersAll));
	p->psk_any_ = TRY(make_priority(base + kCiphersAll + kPskExchange));
	p->psk_sha256_ = TRY(make_priority(base + kCiphersSha256 + kPskExchange));
	p->psk_sha384_ = TRY(make_priority(base + kCiphersSha384 + kPskExchange));
	return p;
}

gnutls_priority_t Priorities::psk(size_t key_length) const {
	if (key_length == 32)
		return psk_sha256_.get();
	if (key_length == 48)
		return psk_sha384_.get();
	return psk_any_.get();
}

} // namespace tlsup
