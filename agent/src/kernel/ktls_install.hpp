// SPDX-License-Identifier: GPL-2.0
//
// Hands a finished TLS 1.3 session to the kernel: the traffic secrets
// GnuTLS reports (gnutls_record_get_state) packed into the kernel's
// tls12_crypto_info_* layouts, then TCP_ULP "tls" and SOL_TLS TLS_TX/TLS_RX.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <gnutls/gnutls.h>
#include <linux/tls.h>

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
	// The largest plaintext a record we send may carry, when the peer
	// asked for less than TLS's 16384 with RFC 8449's record_size_limit;
	// 0 when it did not.
	size_t tx_max_payload = 0;
};

// setsockopt(SOL_TLS) for the largest plaintext per record kTLS sends;
// newer than the 6.1 and 6.12 uapi headers.
#ifdef TLS_TX_MAX_PAYLOAD_LEN
constexpr int kTlsTxMaxPayloadLen = TLS_TX_MAX_PAYLOAD_LEN;
#else
constexpr int kTlsTxMaxPayloadLen = 5;
#endif

// The four kTLS ciphers tlsupd negotiates.
bool ktls_supports(gnutls_cipher_algorithm_t cipher);

// The struct tls12_crypto_info_* for CIPHER, as bytes ready for setsockopt.
// Pure: no syscall. EINVAL for another cipher or wrong key/IV sizes.
Result<SecretBytes> pack_crypto_info(gnutls_cipher_algorithm_t cipher, const DirectionSecrets &s);

// Attaches the "tls" ULP to FD and installs both directions, and the
// peer's record size limit where there is one. Any failure is EIO (the
// kernel lacks kTLS, the cipher, or TLS_TX_MAX_PAYLOAD_LEN when the peer
// needs it -- kTLS would send records the peer refuses -- or the socket
// went away) with the syscall's reason.
Result<void> install_ktls(int fd, const TrafficSecrets &secrets);

} // namespace tlsup
