// SPDX-License-Identifier: GPL-2.0
//
// The kernel's keys as tlsupd reads them: key material and descriptions by
// serial, exact searches of keyrings, what a keyring links, the process
// keyring. Which keyrings tlsupd trusts and links: keyring_linker.hpp; the
// keys of verified peer certificates: peer_keys.hpp.
#pragma once

#include <cstdint>
#include <keyutils.h>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"
#include "secret_bytes.hpp"

namespace tlsup {

// Keyrings the kernel consumers use; linked at start-up when they exist.
constexpr const char *kConsumerKeyrings[] = {".nvme", ".nfs", ".nfsd"};

// The key type of a TLS PSK (registered by the kernel's NVMe keyring, 6.7+).
constexpr const char *kPskKeyType = "psk";

// Every key and keyring tlsupd creates is named with this prefix; a PSK
// identity that starts with it is refused (a peer must never be able to
// name one of the agent's own keys).
constexpr std::string_view kAgentKeyPrefix = "tlsupd:";
inline bool is_agent_key_name(std::string_view name) {
	return name.substr(0, kAgentKeyPrefix.size()) == kAgentKeyPrefix;
}

// The payload of a key (DER certificate, DER private key, PSK bytes).
// ENOKEY when the key is gone, revoked or unreadable.
Result<SecretBytes> read_key(key_serial_t serial);

struct KeyDescription {
	std::string type;
	std::string description; // for a PSK: its identity
	uid_t uid = 0;           // the owner
	gid_t gid = 0;
	key_perm_t perm = 0;
};
Result<KeyDescription> describe_key(key_serial_t serial);
// The description alone.
Result<std::string> key_description(key_serial_t serial);

// Searches each keyring in turn (recursively, as keyctl_search does) for a
// key of TYPE whose description is exactly DESCRIPTION; 0 when there is
// none. (The kernel's search matches as the key type says: the "psk" type
// also matches keys whose description merely starts with the identity.)
key_serial_t search_keyrings(std::span<const key_serial_t> keyrings, const char *type,
                             const std::string &description);

// The serials a keyring links, in order; nullopt when it cannot be read.
std::optional<std::vector<key_serial_t>> keyring_contents(key_serial_t keyring);

// Makes sure this process has a process keyring. Must run before any
// thread starts: threads share the credentials they were cloned with, so a
// process keyring created later by one thread would be that thread's only,
// and the kernel links ta_keyring into the accepting thread's keyring.
Result<key_serial_t> ensure_process_keyring();

} // namespace tlsup
