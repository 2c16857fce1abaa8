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

#include "config.hpp"
#include "gnutls_handles.hpp"
#include "result.hpp"
#include "session_setup.hpp"

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

// Whom a client expects: PEERNAME if the consumer gave one; else the
// peer's address in the certificate's IP SANs, or one of the names reverse
// DNS gave for it (only when that is on).
struct ServerName {
	std::optional<std::string> peername;
	sockaddr_storage address{};
	std::optional<ReverseNames> reverse_names;
};

// EACCES unless the verified server certificate LEAF is the one NAME
// expects. On success, says how it matched in MATCHED (for the log).
Result<void> check_server_name(gnutls_x509_crt_t leaf, const ServerName &name,
                               std::string *matched = nullptr);

// EACCES unless the verified client certificate LEAF carries one of
// ALLOWED (x509.client_allowed_sans) as a DNS SAN (compared without case or
// a trailing dot, wildcards only as the very same text) or an IP SAN (an
// entry that is an IP literal, compared as an address). The reason lists
// the certificate's DNS and IP SANs.
Result<void> check_client_sans(gnutls_x509_crt_t leaf, const std::vector<std::string> &allowed);

// The whole check of a peer's certificate, run while GnuTLS verifies it
// (before the client sends its own certificate): the chain against TRUST,
// then, for a client, the server's name; for a server, the client policy.
// A server's client may send none unless the policy requires one: the
// chain comes back empty.
struct PeerCheck {
	Role role = Role::Client;
	gnutls_x509_trust_list_t trust = nullptr;
	ServerName server;                     // a client's expectation
	const ClientPolicy *clients = nullptr; // a server's
};
Result<PeerChain> check_peer(gnutls_session_t session, const PeerCheck &check,
                             std::string *matched = nullptr);

} // namespace tlsup
