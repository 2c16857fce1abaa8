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

namespace {

// An allow-list entry as an address: 4 or 16 bytes, or none.
std::vector<unsigned char> ip_bytes(const std::string &text) {
	unsigned char buf[16];
	if (inet_pton(AF_INET, text.c_str(), buf) == 1)
		return {buf, buf + 4};
	if (inet_pton(AF_INET6, text.c_str(), buf) == 1)
		return {buf, buf + 16};
	return {};
}

std::string dns_form(std::string name) {
	for (char &c : name)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	if (name.size() > 1 && name.back() == '.')
		name.pop_back();
	return name;
}

} // namespace

Result<void> check_client_sans(gnutls_x509_crt_t leaf, const std::vector<std::string> &allowed) {
	std::string seen;
	auto note = [&](const std::string &what) {
		if (seen.size() < 512)
			seen += (seen.empty() ? "" : ", ") + what;
	};
	for (unsigned i = 0;; i++) {
		char buf[1024];
		size_t size = sizeof(buf);
		unsigned critical = 0;
		int type = gnutls_x509_crt_get_subject_alt_name(leaf, i, buf, &size, &critical);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue; // longer than any name we would allow
		if (type < 0)
			return make_error(EACCES, "client certificate SANs unreadable: %s",
			                  gnutls_strerror(type));
		if (type == GNUTLS_SAN_DNSNAME) {
			std::string name = dns_form(std::string(buf, size));
			for (const auto &a : allowed)
				if (a == name)
					return {};
			note("DNS:" + name);
		} else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
			std::vector<unsigned char> ip(buf, buf + size);
			for (const auto &a : allowed)
				if (ip_bytes(a) == ip)
					return {};
			char text[INET6_ADDRSTRLEN] = "?";
			inet_ntop(size == 4 ? AF_INET : AF_INET6, buf, text, sizeof(text));
			note(std::string("IP:") + text);
		}
	}
	return make_error(EACCES,
	                  "client certificate (%s) matches no entry of [authenticate.server] "
	                  "x509.client_allowed_sans",
	                  seen.empty() ? "no DNS or IP SAN" : seen.c_str());
}

Result<PeerChain> check_peer(gnutls_session_t session, const PeerCheck &check,
                             std::string *matched) {
	PeerChain chain = TRY(import_peer_chain(session));
	bool server = check.role == Role::Server;
	if (server && chain.certs.empty()) {
		if (check.clients && check.clients->require_certificate)
			return make_error(EACCES,
			                  "the client sent no certificate, and "
			                  "[authenticate.server] x509.client_auth requires one");
		return chain; // the client may stay anonymous; no REMOTE_AUTH then
	}
	TRY(verify_chain(check.trust, chain, check.role == Role::Client));
	if (check.role == Role::Client)
		TRY(check_server_name(chain.certs.front().get(), check.server, matched));
	if (server && check.clients && !check.clients->allowed_sans.empty())
		TRY(check_client_sans(chain.certs.front().get(), check.clients->allowed_sans));
	return chain;
}

} // namespace tlsup
