// SPDX-License-Identifier: GPL-2.0
#include "peer_verify.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>

namespace tlsup {

Result<PeerChain> import_peer_chain(gnutls_session_t session) {
	PeerChain chain;
	unsigned n = 0;
	const gnutls_datum_t *list = gnutls_certificate_get_peers(session, &n);
	if (!list || n == 0)
		return chain;
	if (n > 16)
		return make_error(EACCES, "peer sent %u certificates, limit 16", n);
	for (unsigned i = 0; i < n; i++) {
		gnutls_x509_crt_t crt = nullptr;
		if (gnutls_x509_crt_init(&crt) < 0)
			return make_error(ENOMEM, "cannot allocate a certificate");
		chain.certs.emplace_back(crt);
		int ret = gnutls_x509_crt_import(crt, &list[i], GNUTLS_X509_FMT_DER);
		if (ret < 0)
			return make_error(EACCES, "peer certificate %u does not parse: %s", i,
			                  gnutls_strerror(ret));
	}
	chain.leaf_der.assign(list[0].data, list[0].data + list[0].size);
	return chain;
}

Result<void> verify_chain(gnutls_x509_trust_list_t trust, const PeerChain &chain,
                          bool verifying_server) {
	if (chain.certs.empty())
		return make_error(EACCES, "peer sent no certificate");
	std::vector<gnutls_x509_crt_t> raw;
	for (const auto &c : chain.certs)
		raw.push_back(c.get());
	gnutls_typed_vdata_st purpose{};
	purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
	purpose.data = reinterpret_cast<unsigned char *>(const_cast<char *>(
	        verifying_server ? GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT));
	unsigned status = 0;
	int ret = gnutls_x509_trust_list_verify_crt2(trust, raw.data(),
	                                             static_cast<unsigned>(raw.size()), &purpose, 1,
	                                             0, &status, nullptr);
	if (ret < 0)
		return make_error(EACCES, "certificate verification failed: %s",
		                  gnutls_strerror(ret));
	if (status != 0) {
		GnutlsDatum text;
		std::string why = "untrusted";
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
		                                                 text.out(), 0) >= 0)
			why.assign(reinterpret_cast<const char *>(text.get().data),
			           text.get().size);
		return make_error(EACCES, "peer certificate rejected: %s", why.c_str());
	}
	return {};
}

bool certificate_matches_name(gnutls_x509_crt_t leaf, const std::string &name) {
	// IP literals are compared with the IP SANs by GnuTLS itself.
	return gnutls_x509_crt_check_hostname2(leaf, name.c_str(), 0) != 0;
}

bool certificate_matches_address(gnutls_x509_crt_t leaf, const sockaddr_storage &addr) {
	if (addr.ss_family == AF_INET) {
		const auto &in = reinterpret_cast<const sockaddr_in &>(addr);
		return gnutls_x509_crt_check_ip(
		               leaf, reinterpret_cast<const unsigned char *>(&in.sin_addr), 4, 0) !=
		       0;
	}
	if (addr.ss_family == AF_INET6) {
		const auto &in6 = reinterpret_cast<const sockaddr_in6 &>(addr);
		const auto *bytes = reinterpret_cast<const unsigned char *>(&in6.sin6_addr);
		if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr) &&
		    gnutls_x509_crt_check_ip(leaf, bytes + 12, 4, 0))
			return true;
		return gnutls_x509_crt_check_ip(leaf, bytes, 16, 0) != 0;
	}
	return false;
}

std::optional<std::string> address_text(const sockaddr_storage &addr) {
	char buf[INET6_ADDRSTRLEN];
	if (addr.ss_family == AF_INET) {
		const auto &in = reinterpret_cast<const sockaddr_in &>(addr);
		if (inet_ntop(AF_INET, &in.sin_addr, buf, sizeof(buf)))
			return std::string(buf);
	} else if (addr.ss_family == AF_INET6) {
		const auto &in6 = reinterpret_cast<const sockaddr_in6 &>(addr);
		if (inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof(buf)))
			return std::string(buf);
	}
	return std::nullopt;
}

Result<void> check_server_name(gnutls_x509_crt_t leaf, const ServerName &name,
                               std::string *matched) {
	auto note = [&](std::string how) {
		if (matched)
			*matched = std::move(how);
	};
	if (name.peername) {
		if (certificate_matches_name(leaf, *name.peername)) {
			note("the certificate names '" + *name.peername + "'");
			return {};
		}
		return make_error(EACCES, "server certificate does not match '%s'",
		                  name.peername->c_str());
	}
	auto addr = address_text(name.address);
	if (!addr)
		return make_error(EACCES, "no PEERNAME and the peer has no IP address to match "
		                          "the certificate against");
	if (certificate_matches_address(leaf, name.address)) {
		note("the certificate holds " + *addr);
		return {};
	}
	if (!name.reverse_names)
		return make_error(EACCES,
		                  "no PEERNAME, %s is not in the certificate's IP addresses, and "
		                  "reverse DNS name matching is off",
		                  addr->c_str());
	if (!name.reverse_names->failure.empty())
		return make_error(EACCES,
		                  "no PEERNAME, %s is not in the certificate's IP addresses, and "
		                  "reverse DNS failed: %s",
		                  addr->c_str(), name.reverse_names->failure.c_str());
	for (const auto &n : name.reverse_names->names) {
		if (certificate_matches_name(leaf, n)) {
			note(*addr + " resolves to " + n + ", which the certificate names");
			return {};
		}
	}
	std::string list;
	for (const auto &n : name.reverse_names->names)
		list += (list.empty() ? "" : ", ") + n;
	return make_error(EACCES,
	                  "no PEERNAME, and neither %s nor its reverse DNS names (%s) match the "
	                  "server certificate",
	                  addr->c_str(), list.empty() ? "none" : list.c_str());
}

Result<PeerChain> check_peer(gnutls_session_t session, const PeerCheck &check,
                             std::string *matched) {
	PeerChain chain = TRY(import_peer_chain(session));
	if (check.role == Role::Server && chain.certs.empty())
		return chain; // the client may stay anonymous; no REMOTE_AUTH then
	TRY(verify_chain(check.trust, chain, check.role == Role::Client));
	if (check.role == Role::Client)
		TRY(check_server_name(chain.certs.front().get(), check.server, matched));
	return chain;
}

} // namespace tlsup
