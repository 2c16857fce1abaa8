// SPDX-License-Identifier: GPL-2.0
//
// The kernel keyrings: key material by serial, PSK identities by
// description, the keyrings tlsupd links at start-up, and the keys that
// hold verified peer certificates (their serials go back in REMOTE_AUTH).
#pragma once

#include <cstdint>
#include <keyutils.h>
#include <span>
#include <string>
#include <vector>

#include "log.hpp"
#include "result.hpp"
#include "secret_bytes.hpp"

namespace tlsup {

// Keyrings the kernel consumers use; linked at start-up when they exist.
constexpr const char *kConsumerKeyrings[] = {".nvme", ".nfs", ".nfsd"};

// The payload of a key (DER certificate, DER private key, PSK bytes).
// ENOKEY when the key is gone, revoked or unreadable.
Result<SecretBytes> read_key(key_serial_t serial);

// The description of a key (for a PSK: its identity).
Result<std::string> key_description(key_serial_t serial);

// Searches each keyring in turn (recursively, as keyctl_search does) for a
// key of type "psk" or "user" whose description is IDENTITY.
Result<key_serial_t> search_psk(std::span<const key_serial_t> keyrings,
                                const std::string &identity);

// Makes sure this process has a process keyring. Must run before any
// thread starts: threads share the credentials they were cloned with, so a
// process keyring created later by one thread would be that thread's only,
// and the kernel links ta_keyring into the accepting thread's keyring.
Result<key_serial_t> ensure_process_keyring();

// A configured keyring: a serial number or a name found in /proc/keys.
// Start-up and reload only (reads /proc/keys).
Result<key_serial_t> resolve_keyring(const std::string &name_or_serial);

// Links the configured keyrings and kConsumerKeyrings into the process
// keyring. A configured keyring that is missing is an error; a missing
// consumer keyring is skipped with a debug message.
Result<std::vector<key_serial_t>> link_keyrings(const std::vector<std::string> &configured,
                                                const Log &log);

// Stores a verified peer certificate (DER) in a "user" key named after its
// SHA-256 fingerprint in DEST (0: the process keyring); returns its serial.
// Adding the same certificate again updates and returns the same key.
Result<key_serial_t> store_peer_certificate(std::span<const uint8_t> der, key_serial_t dest);

} // namespace tlsup
