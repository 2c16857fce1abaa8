// SPDX-License-Identifier: GPL-2.0
//
// The socket the kernel handed over, as the handshake needs to know it:
// that it is TCP over IPv4 or IPv6 (anything else -- QUIC, MPTCP, UDP, a
// unix socket -- is refused with EOPNOTSUPP before a single handshake
// byte), and whom it is connected to. Asked once per request:
// getpeername(), SO_PROTOCOL.
#pragma once

#include <string>
#include <sys/socket.h>

#include "result.hpp"

namespace tlsup {

struct HandedSocket {
	sockaddr_storage peer{}; // the connected peer (family AF_INET or AF_INET6)
};

// EINVAL: not a socket; EOPNOTSUPP: not TCP over IPv4/IPv6; ETIMEDOUT: not
// (or no longer) connected.
Result<HandedSocket> inspect_handed_socket(int fd);

// "192.0.2.1:2049", "[2001:db8::1]:4420", or "" for another family: the
// journal's TLSUP_PEER.
std::string peer_text(const sockaddr_storage &peer);

} // namespace tlsup
