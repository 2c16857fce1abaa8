// SPDX-License-Identifier: GPL-2.0
//
// The handshake engine against a GnuTLS Peer on the other end of a socket
// pair, as the engine's tests run it: the SessionSetup, the peers they
// meet (options for the test PKI's identities), and one handshake's
// outcome on both sides.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "credentials.hpp"
#include "handshake.hpp"
#include "log.hpp"
#include "priorities.hpp"
#include "result.hpp"
#include "test_support.hpp"
#include "unique_fd.hpp"

namespace tlsup::test {

// What the engine is given for ROLE and AUTH with CREDENTIALS and
// PRIORITIES (borrowed); verified peer certificates go to peer_keys(). The
// fd is run_engine()'s to set.
SessionSetup engine_setup(Role role, Auth auth, std::shared_ptr<const Credentials> credentials,
                          const Priorities &priorities);

struct EngineRun {
	Result<TlsSession::Progress> result = make_error(EIO, "not run");
	std::unique_ptr<TlsSession> session; // null when it could not be created
	PeerOutcome peer;                    // once the peer was waited for
	// With PeerAfter::KeepRunning, the peer, still reading what the test
	// sends next. Declared before agent_fd, so the agent's end closes
	// first and a test that fails early ends its peer.
	std::unique_ptr<Peer> running_peer;
	UniqueFd agent_fd;

	int status() const { return result ? 0 : result.error().code; }
	std::string reason() const { return result ? std::string() : result.error().reason; }
};

enum class PeerAfter { Wait, KeepRunning };

// Runs the engine (SETUP, on FDS.first) until it finishes or fails,
// against a Peer with PEER on FDS.second. A failed engine shuts its end
// down (that unblocks the peer). Then waits for the peer, or leaves it in
// running_peer.
EngineRun run_engine(SessionSetup setup, std::pair<UniqueFd, UniqueFd> fds, PeerOptions peer,
                     const Log &log, PeerAfter after = PeerAfter::Wait);

// ---- peers ----

// A server presenting the PKI identity CERT ("server", "expired", ...).
PeerOptions server_peer(const std::string &cert);
// A server presenting "server" that requires a client certificate and
// verifies it against ca.pem.
PeerOptions verifying_server();
// A client that verifies the agent as server.test against ca.pem and
// presents the PKI identity CERT ("" for none).
PeerOptions client_peer(const std::string &cert);
// PSK peers (TLS 1.3 with the PSK key exchanges): a server that knows
// IDENTITY's KEY, a client that offers it.
PeerOptions psk_server(const std::string &identity, std::vector<uint8_t> key);
PeerOptions psk_client(const std::string &identity, std::vector<uint8_t> key);

} // namespace tlsup::test
