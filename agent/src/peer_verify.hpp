// SPDX-License-Identifier: GPL-2.0
//
// Verification of a peer's certificate chain and of its identity: the
// chain against a trust list (with CRLs, expiry, key purpose), then the
// name the consumer expects (PEERNAME) or, without one, the peer's address
// against the certificate's IP SANs.
#pragma once

#include <gnutls/gnutls.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <vector>

#include "gnutls_handles.hpp"
#include "result.hpp"

namespace tlsup {

struct PeerChain {
	std::vector<X509Crt> certs; // leaf first
	std::vector<uint8_t> leaf_der;
};

// The certificates the peer sent; an empty chain when it sent none.
Result<PeerChain> import_peer_chain(gnutls_session_t session);

// EACCES, with GnuTLS's description of every problem, unless the chain
// verifies. VERIFYING_SERVER: we are the client (purpose TLS server).
Result<void> verify_chain(gnutls_x509_trust_list_t trust, const PeerChain &chain,
                          bool verifying_server);

// NAME is a DNS name or an IP literal.
bool certificate_matches_name(gnutls_x509_crt_t leaf, const std::string &name);

// True when ADDR (IPv4, IPv6 or v4-mapped IPv6) is one of the IP SANs.
bool certificate_matches_address(gnutls_x509_crt_t leaf, const sockaddr_storage &addr);

// "192.0.2.1" / "2001:db8::1", or nullopt for a non-IP socket.
std::optional<std::string> address_text(const sockaddr_storage &addr);

} // namespace tlsup
