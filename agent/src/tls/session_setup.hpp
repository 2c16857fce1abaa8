// SPDX-License-Identifier: GPL-2.0
//
// What the handshake engine is given for one handshake: the socket, the
// role, the authentication the consumer asked for and where its material
// is. The worker builds it from the kernel's ACCEPT reply; the engine does
// not know the wire format.
#pragma once

#include <cstdint>
#include <keyutils.h>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "handed_socket.hpp"

namespace tlsup {

struct Credentials;
class PeerCertificateKeys;
class Priorities;

enum class Role { Client, Server };

enum class Auth { Anonymous, Psk, X509 };

// Names reverse DNS gave for a peer's address (looked up by the worker
// before the handshake), or why it gave none.
struct ReverseNames {
	std::vector<std::string> names;
	std::string failure;
};

// A certificate and its private key, both as key serials (DER payloads).
struct KeyPair {
	key_serial_t cert = 0;
	key_serial_t privkey = 0;
};

struct SessionSetup {
	int fd = -1; // the kernel's socket; borrowed, never closed here
	// What the worker learned of it (inspect_handed_socket()); without it
	// the engine asks the socket itself.
	std::optional<HandedSocket> socket;
	Role role = Role::Client;
	Auth auth = Auth::Anonymous;
	std::optional<std::string> peername;
	std::vector<key_serial_t> peer_identities; // PSK keys the kernel named
	std::vector<KeyPair> certificates;         // identities the kernel named, in order
	key_serial_t keyring = 0;                  // the request's own keyring, 0 if none
	// The configured keyrings, searched with the request's for server
	// PSKs, and the keyrings whose "user" keys count as PSKs where they are
	// searched; see find_server_psk().
	std::vector<key_serial_t> keyrings;
	std::vector<key_serial_t> psk_keyrings;
	// A client without PEERNAME whose server certificate does not hold the
	// peer's address in its IP SANs: these names may match instead.
	// nullopt: reverse DNS name matching is off (the default).
	std::optional<ReverseNames> reverse_names;
	std::shared_ptr<const Credentials> credentials;
	const Priorities *priorities = nullptr;
	const PeerCertificateKeys *peer_keys = nullptr; // where verified certificates go
};

} // namespace tlsup
