// SPDX-License-Identifier: GPL-2.0
//
// Hands a finished TLS 1.3 session to the kernel: the traffic secrets
// GnuTLS reports (gnutls_record_get_state) packed into the kernel's
// tls12_crypto_info_* layouts, then TCP_ULP "tls" and SOL_TLS TLS_TX/TLS_RX.
#pragma once

#include <array>
#include <cstdint>
#include <gnutls/gnutls.h>

#include "result.hpp"
#include "secret_bytes.hpp"

namespace tlsup {

// One direction's state, exactly as gnutls_record_get_state reports it:
// the AEAD key, the 12-byte static IV and the next record sequence number
// (big-endian).
struct DirectionSecrets {
	SecretBytes key;
	SecretBytes iv;
	std::array<uint8_t, 8> seq{};
};

struct TrafficSecrets {
	gnutls_cipher_algorithm_t cipher = GNUTLS_CIPHER_UNKNOWN;
	DirectionSecrets tx; // what we send
	DirectionSecrets rx; // what the peer sends
};

// The four kTLS ciphers tlsupd negotiates.
bool ktls_supports(gnutls_cipher_algorithm_t cipher);

// The struct tls12_crypto_info_* for CIPHER, as bytes ready for setsockopt.
// Pure: no syscall. EINVAL for another cipher or wrong key/IV sizes.
Result<SecretBytes> pack_crypto_info(gnutls_cipher_algorithm_t cipher, const DirectionSecrets &s);

// Attaches the "tls" ULP to FD and installs both directions. Any failure
// is EIO (the kernel lacks kTLS, the cipher, or the socket went away) with
// the syscall's reason.
Result<void> install_ktls(int fd, const TrafficSecrets &secrets);

} // namespace tlsup
