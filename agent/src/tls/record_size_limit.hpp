// SPDX-License-Identifier: GPL-2.0
//
// RFC 8449's record_size_limit, as the peer sent it: the largest record it
// accepts, content type included (TLS 1.3). GnuTLS 3.7 negotiates the
// extension but does not report the peer's value after the handshake
// (gnutls_record_get_max_size() stays at 16384), and kTLS, which sends the
// records from then on, must honour it. So the engine reads it from the
// handshake message that carries it: a client from the server's
// EncryptedExtensions, a server from the ClientHello.
#pragma once

#include <cstddef>
#include <gnutls/gnutls.h>
#include <optional>

namespace tlsup {

// The record_size_limit in MSG, the body of a ClientHello (CLIENT_HELLO) or
// of an EncryptedExtensions message; nullopt when absent or malformed.
std::optional<size_t> parse_record_size_limit(const gnutls_datum_t &msg, bool client_hello);

// The largest plaintext per TLS 1.3 record for a peer LIMIT: one byte of
// every record is the inner content type. nullopt when no smaller than
// TLS's own 2^14 (+1), or below the 64 RFC 8449 allows.
std::optional<size_t> tls13_max_payload(size_t limit);

} // namespace tlsup
