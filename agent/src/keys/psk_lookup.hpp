// SPDX-License-Identifier: GPL-2.0
//
// Which PSK a handshake uses. A server's client chooses the identity, so
// the identity may only select a key provisioned as a PSK (DESIGN §4a); a
// client offers the first of the kernel's identities that is usable.
#pragma once

#include <cstddef>
#include <functional>
#include <keyutils.h>
#include <span>
#include <string>

#include "result.hpp"
#include "secret_bytes.hpp"

namespace tlsup {

struct Psk {
	key_serial_t serial = 0;
	std::string identity;
	SecretBytes key;
};

// Where a server PSK may come from.
struct PskScope {
	std::span<const key_serial_t> kernel_named; // the request's PEER_IDENTITY keys
	key_serial_t request_keyring = 0;           // the request's own keyring
	std::span<const key_serial_t> keyrings;     // configured, searched for every request
	std::span<const key_serial_t> psk_keyrings; // where "user" keys are PSKs too
};

// Whether this GnuTLS can use a key of KEY_LENGTH bytes (ENOKEY if not).
// GnuTLS before 3.8.1 computes every external PSK binder with SHA-256, so
// a 48-byte key (SHA-384, as ktls-utils and the NVMe TLS spec use it) is
// refused with a clear reason rather than failing in a way that names
// nothing.
Result<void> psk_usable(size_t key_length);

// The key the client's IDENTITY selects: a kernel-named key ("psk" or
// "user") with that description, else a "psk" key -- or a "user" key where
// its keyring is one of the PSK keyrings -- in the request's keyring, then
// the configured ones. The description must equal the identity, the key
// must hold 32 or 48 bytes, and identities in the agent's own naming
// ("tlsupd:") are refused. EKEYREJECTED when nothing qualifies (the client
// is told unknown_psk_identity), ENOKEY when this GnuTLS cannot use it.
Result<Psk> find_server_psk(const PskScope &scope, const std::string &identity);

// The PSK a client offers: the first of IDENTITIES whose description and
// key can be read, are not empty and that this GnuTLS can use. SKIPPED
// hears of each one passed over. ENOKEY when none is usable.
using SkippedPsk = std::function<void(key_serial_t, const Error &)>;
Result<Psk> choose_client_psk(std::span<const key_serial_t> identities, const SkippedPsk &skipped);

} // namespace tlsup
