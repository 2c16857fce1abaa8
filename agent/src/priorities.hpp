// SPDX-License-Identifier: GPL-2.0
//
// The crypto policy of every handshake: TLS 1.3 only, kTLS ciphers only,
// no session tickets (the kernel consumers never resume). One set per
// worker, built at start-up.
#pragma once

#include <cstddef>
#include <memory>

#include "gnutls_handles.hpp"
#include "result.hpp"

namespace tlsup {

class Priorities {
public:
	static Result<std::unique_ptr<Priorities>> create();

	gnutls_priority_t certificate() const { return x509_.get(); }
	// The PSK's hash follows its length (32: SHA-256, 48: SHA-384) as in
	// ktls-utils; the cipher suites offered must use the same hash. Other
	// lengths (a client's own key): every kTLS suite.
	gnutls_priority_t psk(size_t key_length) const;

private:
	Priority x509_, psk_any_, psk_sha256_, psk_sha384_;
};

} // namespace tlsup
