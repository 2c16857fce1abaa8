// SPDX-License-Identifier: GPL-2.0
// What the bench server and the in-process baseline share: the same TLS
// 1.3 parameters (x509 ECDSA P-256 or PSK, X25519 key exchange, no session
// tickets) so that the full path and the baseline do the same work.
#pragma once

#include <gnutls/gnutls.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace bench {

inline constexpr const char *kPriority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519";
inline constexpr const char *kPriorityPsk =
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:+ECDHE-PSK:+PSK";

[[noreturn]] inline void die(const char *what, int err) {
	std::fprintf(stderr, "bench: %s: %s\n", what, gnutls_strerror(err));
	std::exit(2);
}

inline std::vector<unsigned char> unhex(const std::string &h) {
	auto v = [](char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; };
	std::vector<unsigned char> out;
	for (size_t i = 0; i + 1 < h.size(); i += 2)
		out.push_back(static_cast<unsigned char>(v(h[i]) << 4 | v(h[i + 1])));
	return out;
}

struct Psk {
	std::string identity;
	std::vector<unsigned char> key;
};

// "identity:hexkey"
inline Psk parse_psk(const std::string &s) {
	auto c = s.find(':');
	if (c == std::string::npos) {
		std::fprintf(stderr, "bench: --psk wants IDENTITY:HEXKEY\n");
		std::exit(2);
	}
	return {s.substr(0, c), unhex(s.substr(c + 1))};
}

// The options both programs take: --cert, --key, --psk.
struct TlsOptions {
	std::string cert, key;
	Psk psk;
	bool use_psk = false;

	// Takes option a with value v if it is one of ours.
	bool take(const std::string &a, const std::string &v) {
		if (a == "--cert")
			cert = v;
		else if (a == "--key")
			key = v;
		else if (a == "--psk") {
			psk = parse_psk(v);
			use_psk = true;
		} else
			return false;
		return true;
	}
	const Psk *psk_or_null() const { return use_psk ? &psk : nullptr; }
};

struct ServerCreds {
	gnutls_certificate_credentials_t x509 = nullptr;
	gnutls_psk_server_credentials_t psk = nullptr;
};

inline const Psk *g_server_psk = nullptr;

inline int server_psk_cb(gnutls_session_t, const char *identity, gnutls_datum_t *key) {
	if (!g_server_psk || g_server_psk->identity != identity)
		return -1;
	key->size = static_cast<unsigned>(g_server_psk->key.size());
	key->data = static_cast<unsigned char *>(gnutls_malloc(key->size));
	std::copy(g_server_psk->key.begin(), g_server_psk->key.end(), key->data);
	return 0;
}

inline ServerCreds server_creds(const std::string &cert, const std::string &key, const Psk *psk) {
	ServerCreds c;
	int ret = gnutls_certificate_allocate_credentials(&c.x509);
	if (ret < 0)
		die("credentials", ret);
	if (!cert.empty() && (ret = gnutls_certificate_set_x509_key_file(
	                              c.x509, cert.c_str(), key.c_str(), GNUTLS_X509_FMT_PEM)) < 0)
		die("certificate", ret);
	if (psk) {
		g_server_psk = psk;
		gnutls_psk_allocate_server_credentials(&c.psk);
		gnutls_psk_set_server_credentials_function(c.psk, server_psk_cb);
	}
	return c;
}

inline gnutls_session_t new_server_session(const ServerCreds &c) {
	gnutls_session_t s;
	gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS);
	gnutls_priority_set_direct(s, c.psk ? kPriorityPsk : kPriority, nullptr);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c.x509);
	if (c.psk)
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, c.psk);
	return s;
}

} // namespace bench
