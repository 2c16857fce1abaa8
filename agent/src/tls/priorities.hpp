// SPDX-License-Identifier: GPL-2.0
//
// The crypto policy of every handshake, as ktls-utils 1.4 builds it: the
// system's default priority (GnuTLS's @SYSTEM configuration where there is
// one) with restrictions appended -- TLS 1.3 only, no compression, no
// session tickets (the kernel consumers never resume), and only the
// ciphers kTLS implements, in the system's order. The groups are the
// system's, reordered: ML-KEM hybrids first where this GnuTLS has them,
// then X25519 where the policy allows it. Nothing the policy disables is
// ever added back. One set per worker, built at start-up.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "gnutls_handles.hpp"
#include "result.hpp"

namespace tlsup {

class Priorities {
public:
	// EIO when the system policy leaves nothing a kernel consumer can use
	// (no kTLS cipher, no key exchange group).
	static Result<std::unique_ptr<Priorities>> create();

	gnutls_priority_t certificate() const { return x509_.get(); }
	// The PSK's hash follows its length (32: SHA-256, 48: SHA-384) as in
	// ktls-utils; the cipher suites offered must use the same hash. Other
	// lengths (a client's own key): every kTLS suite. Null when the system
	// policy allows no suite of the key's hash.
	gnutls_priority_t psk(size_t key_length) const;

	// For the start-up log: what was appended, and notes on the groups.
	const std::string &appended() const { return appended_; }
	const std::vector<std::string> &notes() const { return notes_; }

private:
	Priority x509_, psk_any_, psk_sha256_, psk_sha384_;
	std::string appended_;
	std::vector<std::string> notes_;
};

// The group names of a priority, in order ("X25519", "SECP256R1", ...).
std::vector<std::string> priority_groups(gnutls_priority_t p);
// The cipher names of a priority, in order ("AES-128-GCM", ...).
std::vector<std::string> priority_ciphers(gnutls_priority_t p);

} // namespace tlsup
