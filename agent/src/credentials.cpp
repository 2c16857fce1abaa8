// SPDX-License-Identifier: GPL-2.0
#include "credentials.hpp"

#include <cstring>
#include <fcntl.h>

#include "unique_fd.hpp"

namespace tlsup {

namespace {

Result<std::string> read_file(const std::string &path) {
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd.valid())
		return make_error(errno == ENOENT ? ENOKEY : errno, "cannot open %s: %s",
		                  path.c_str(), strerror(errno));
	std::string out;
	char buf[8192];
	for (;;) {
		ssize_t n = ::read(fd.get(), buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return make_error(errno, "cannot read %s: %s", path.c_str(),
			                  strerror(errno));
		if (n == 0)
			break;
		out.append(buf, static_cast<size_t>(n));
		if (out.size() > (16u << 20))
			return make_error(EINVAL, "%s is larger than 16 MiB", path.c_str());
	}
	return out;
}

gnutls_datum_t datum(const std::string &s) {
	return {reinterpret_cast<unsigned char *>(const_cast<char *>(s.data())),
	        static_cast<unsigned>(s.size())};
}

// Prefixes an error with the configuration line that named the file.
Error at(const Config &cfg, const char *section, const char *key, const Error &e) {
	return Error{e.code, cfg.where(section, key) + ": " + e.reason};
}

Result<void> load_trust(RoleMaterial &m, const X509Paths &p, const Config &cfg,
                        const char *section) {
	gnutls_x509_trust_list_t raw = nullptr;
	if (gnutls_x509_trust_list_init(&raw, 0) < 0)
		return make_error(ENOMEM, "cannot allocate a trust list");
	m.trust.reset(raw);
	int n;
	if (!p.truststore.empty()) {
		auto text = read_file(p.truststore);
		if (!text)
			return at(cfg, section, "x509.truststore", text.error());
		gnutls_datum_t d = datum(text.value());
		n = gnutls_x509_trust_list_add_trust_mem(raw, &d, nullptr, GNUTLS_X509_FMT_PEM, 0,
		                                         0);
		if (n <= 0)
			return at(cfg, section, "x509.truststore",
			          make_error(EINVAL, "no CA certificate in %s (%s)",
			                     p.truststore.c_str(),
			                     n < 0 ? gnutls_strerror(n) : "empty"));
	} else {
		n = gnutls_x509_trust_list_add_system_trust(raw, 0, 0);
		if (n < 0)
			n = 0; // no system store: only configured peers can be verified
	}
	m.ca_count = static_cast<unsigned>(n);
	if (!p.crl.empty()) {
		auto text = read_file(p.crl);
		if (!text)
			return at(cfg, section, "x509.crl", text.error());
		gnutls_datum_t d = datum(text.value());
		// GNUTLS_TL_VERIFY_CRL drops CRLs no trusted CA signed; zero left
		// means the file is useless, which must not pass silently.
		int c = gnutls_x509_trust_list_add_trust_mem(raw, nullptr, &d, GNUTLS_X509_FMT_PEM,
		                                             GNUTLS_TL_VERIFY_CRL, 0);
		if (c <= 0)
			return at(cfg, section, "x509.crl",
			          make_error(EINVAL, "no CRL signed by a trusted CA in %s (%s)",
			                     p.crl.c_str(), c < 0 ? gnutls_strerror(c) : "none"));
		m.crl_count = static_cast<unsigned>(c);
	}
	return {};
}

Result<void> load_identity(RoleMaterial &m, const X509Paths &p, const Config &cfg,
                           const char *section) {
	if (p.certificate.empty() && p.private_key.empty())
		return {};
	if (p.certificate.empty())
		return at(cfg, section, "x509.private_key",
		          make_error(EINVAL, "x509.certificate is not set"));
	if (p.private_key.empty())
		return at(cfg, section, "x509.certificate",
		          make_error(EINVAL, "x509.private_key is not set"));

	X509Identity id;
	auto cert_text = read_file(p.certificate);
	if (!cert_text)
		return at(cfg, section, "x509.certificate", cert_text.error());
	gnutls_datum_t d = datum(cert_text.value());
	gnutls_x509_crt_t *list = nullptr;
	unsigned count = 0;
	int ret = gnutls_x509_crt_list_import2(&list, &count, &d, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || count == 0)
		return at(cfg, section, "x509.certificate",
		          make_error(EINVAL, "no PEM certificate in %s (%s)", p.certificate.c_str(),
		                     ret < 0 ? gnutls_strerror(ret) : "empty"));
	for (unsigned i = 0; i < count; i++)
		id.chain.emplace_back(list[i]);
	gnutls_free(list);

	// The key text lives in wiped memory only (SecretBytes).
	auto key_text = read_secret_file(p.private_key);
	if (!key_text)
		return at(cfg, section, "x509.private_key", key_text.error());
	gnutls_x509_privkey_t key = nullptr;
	if (gnutls_x509_privkey_init(&key) < 0)
		return make_error(ENOMEM, "cannot allocate a private key");
	id.key.reset(key);
	gnutls_datum_t kd{key_text->data(), static_cast<unsigned>(key_text->size())};
	ret = gnutls_x509_privkey_import2(key, &kd, GNUTLS_X509_FMT_PEM, nullptr, 0);
	if (ret < 0)
		return at(cfg, section, "x509.private_key",
		          make_error(EINVAL, "no usable PEM private key in %s (%s)",
		                     p.private_key.c_str(), gnutls_strerror(ret)));
	auto match = check_key_matches(id.chain.front().get(), key);
	if (!match)
		return at(cfg, section, "x509.private_key", match.error());
	m.identity = std::move(id);
	return {};
}

// Length of the DER element at the start of DATA, or 0 if malformed.
size_t der_element_length(std::span<const uint8_t> data) {
	if (data.size() < 2 || data[0] != 0x30)
		return 0;
	size_t len = data[1], hdr = 2;
	if (len & 0x80) {
		size_t octets = len & 0x7f;
		if (octets == 0 || octets > 4 || data.size() < 2 + octets)
			return 0;
		len = 0;
		for (size_t i = 0; i < octets; i++)
			len = (len << 8) | data[2 + i];
		hdr += octets;
	}
	if (len > data.size() - hdr)
		return 0;
	return hdr + len;
}

} // namespace

Result<std::vector<X509Crt>> import_der_chain(std::span<const uint8_t> der) {
	std::vector<X509Crt> chain;
	while (!der.empty()) {
		size_t len = der_element_length(der);
		if (len == 0)
			return make_error(EINVAL, "certificate key payload is not DER");
		if (chain.size() >= 16)
			return make_error(EINVAL, "certificate chain longer than 16");
		gnutls_x509_crt_t crt = nullptr;
		if (gnutls_x509_crt_init(&crt) < 0)
			return make_error(ENOMEM, "cannot allocate a certificate");
		chain.emplace_back(crt);
		gnutls_datum_t d{const_cast<unsigned char *>(der.data()),
		                 static_cast<unsigned>(len)};
		int ret = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
		if (ret < 0)
			return make_error(EINVAL, "certificate key payload: %s",
			                  gnutls_strerror(ret));
		der = der.subspan(len);
	}
	if (chain.empty())
		return make_error(EINVAL, "certificate key is empty");
	return chain;
}

Result<X509Privkey> import_der_privkey(std::span<const uint8_t> der) {
	gnutls_x509_privkey_t key = nullptr;
	if (gnutls_x509_privkey_init(&key) < 0)
		return make_error(ENOMEM, "cannot allocate a private key");
	X509Privkey out(key);
	gnutls_datum_t d{const_cast<unsigned char *>(der.data()),
	                 static_cast<unsigned>(der.size())};
	int ret = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_DER, nullptr, 0);
	if (ret < 0)
		return make_error(EINVAL, "private key payload: %s", gnutls_strerror(ret));
	return out;
}

Result<void> check_key_matches(gnutls_x509_crt_t cert, gnutls_x509_privkey_t key) {
	unsigned char a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);
	if (gnutls_x509_crt_get_key_id(cert, GNUTLS_KEYID_USE_SHA256, a, &alen) < 0 ||
	    gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &blen) < 0)
		return make_error(EINVAL, "cannot compute key identifiers");
	if (alen != blen || std::memcmp(a, b, alen) != 0)
		return make_error(EINVAL, "the private key does not belong to the certificate");
	return {};
}

Result<std::shared_ptr<const Credentials>> load_credentials(const Config &cfg,
                                                            LinkedKeyrings keyrings) {
	auto creds = std::make_shared<Credentials>();
	creds->keyrings = std::move(keyrings);
	TRY(load_trust(creds->client, cfg.client, cfg, "authenticate.client"));
	TRY(load_identity(creds->client, cfg.client, cfg, "authenticate.client"));
	TRY(load_trust(creds->server, cfg.server, cfg, "authenticate.server"));
	TRY(load_identity(creds->server, cfg.server, cfg, "authenticate.server"));
	// ktls-utils does the same, so a tlshd configuration keeps working;
	// but a server that requests client certificates then authenticates
	// anyone a public CA ever certified, and says so in REMOTE_AUTH.
	if (cfg.server.truststore.empty())
		creds->warnings.push_back(
		        cfg.where("authenticate.server", "x509.truststore") +
		        ": not set: client certificates are verified against the system trust "
		        "store (" +
		        std::to_string(creds->server.ca_count) +
		        " CAs), so any client with a certificate from one of them is authenticated "
		        "(REMOTE_AUTH) by server x509 handshakes; set it to the CAs of your "
		        "clients");
	return std::shared_ptr<const Credentials>(std::move(creds));
}

} // namespace tlsup
