// SPDX-License-Identifier: GPL-2.0
#include "credentials.hpp"

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "configured_file.hpp"

namespace tlsup {

namespace {

gnutls_datum_t datum(const std::string &s) {
	return {reinterpret_cast<unsigned char *>(const_cast<char *>(s.data())),
	        static_cast<unsigned>(s.size())};
}

// Prefixes an error with the configuration line that named the file. The
// reason goes to the log and to `tlsupctl reload`: a value that was a key
// URL (wherever it was put) leaves its secrets behind.
Error at(const Config &cfg, const char *section, const char *key, const Error &e) {
	return Error{e.code, cfg.where(section, key) + ": " + redact_secrets(e.reason)};
}

Result<void> load_trust(RoleMaterial &m, const X509Paths &p, const Config &cfg,
                        const char *section) {
	gnutls_x509_trust_list_t raw = nullptr;
	if (gnutls_x509_trust_list_init(&raw, 0) < 0)
		return make_error(ENOMEM, "cannot allocate a trust list");
	m.trust.reset(raw);
	int n;
	if (!p.truststore.empty()) {
		auto text = read_configured_file(p.truststore);
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
		auto text = read_configured_file(p.crl);
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

Result<std::vector<X509Crt>> load_certificates(const std::string &path) {
	auto text = TRY(read_configured_file(path));
	gnutls_datum_t d = datum(text);
	gnutls_x509_crt_t *list = nullptr;
	unsigned count = 0;
	int ret = gnutls_x509_crt_list_import2(&list, &count, &d, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || count == 0)
		return make_error(EINVAL, "no PEM certificate in %s (%s)", path.c_str(),
		                  ret < 0 ? gnutls_strerror(ret) : "empty");
	std::vector<X509Crt> chain;
	for (unsigned i = 0; i < count; i++)
		chain.emplace_back(list[i]);
	gnutls_free(list);
	return chain;
}

// One certificate/key pair of a role; CERT_KEY and KEY_KEY name the
// configuration keys for messages.
Result<std::optional<CertifiedKey>> load_pair(const std::string &cert, const std::string &key,
                                              const Config &cfg, const char *section,
                                              const char *cert_key, const char *key_key) {
	if (cert.empty() && key.empty())
		return std::optional<CertifiedKey>();
	if (cert.empty())
		return at(cfg, section, key_key, make_error(EINVAL, "%s is not set", cert_key));
	if (key.empty())
		return at(cfg, section, cert_key, make_error(EINVAL, "%s is not set", key_key));
	auto chain = load_certificates(cert);
	if (!chain)
		return at(cfg, section, cert_key, chain.error());
	auto pk = load_private_key(key);
	if (!pk)
		return at(cfg, section, key_key, pk.error());
	auto ck = CertifiedKey::make(std::move(chain).value(), std::move(pk).value());
	if (!ck)
		return at(cfg, section, key_key, ck.error());
	return std::optional<CertifiedKey>(std::move(ck).value());
}

Result<void> load_identity(RoleMaterial &m, const X509Paths &p, const Config &cfg,
                           const char *section, std::vector<std::string> &warnings) {
	m.identity = TRY(load_pair(p.certificate, p.private_key, cfg, section, "x509.certificate",
	                           "x509.private_key"));
	// The second certificate is an addition: where this GnuTLS cannot
	// read it (ML-DSA before GnuTLS 3.8.10), the first still serves.
	auto pq = load_pair(p.pq_certificate, p.pq_private_key, cfg, section, "x509.pq.certificate",
	                    "x509.pq.private_key");
	if (!pq) {
		warnings.push_back(pq.error().reason + "; only x509.certificate is presented" +
		                   (gnutls_pk_get_id("ML-DSA-65") == GNUTLS_PK_UNKNOWN
		                            ? std::string(" (this GnuTLS, ") +
		                                      gnutls_check_version(nullptr) +
		                                      ", has no ML-DSA)"
		                            : std::string()));
		return {};
	}
	m.pq_identity = std::move(pq).value();
	if (m.pq_identity && !m.identity)
		warnings.push_back(cfg.where(section, "x509.pq.certificate") +
		                   ": set without x509.certificate; presented to every peer");
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

Result<Privkey> abstract_key(X509Privkey key) {
	gnutls_privkey_t raw = nullptr;
	if (gnutls_privkey_init(&raw) < 0)
		return make_error(ENOMEM, "cannot allocate a private key");
	Privkey out(raw);
	int ret = gnutls_privkey_import_x509(raw, key.get(), GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
	if (ret < 0)
		return make_error(EINVAL, "private key: %s", gnutls_strerror(ret));
	key.release(); // the abstract key owns it now
	return out;
}

Result<Privkey> load_private_key(const std::string &path_or_url) {
	if (is_gnutls_url(path_or_url)) {
		gnutls_privkey_t raw = nullptr;
		if (gnutls_privkey_init(&raw) < 0)
			return make_error(ENOMEM, "cannot allocate a private key");
		Privkey out(raw);
		int ret = gnutls_privkey_import_url(raw, path_or_url.c_str(), 0);
		if (ret < 0)
			return make_error(ret == GNUTLS_E_UNIMPLEMENTED_FEATURE ? EINVAL : ENOKEY,
			                  "no usable private key at %s (%s)",
			                  redact_key_url(path_or_url).c_str(),
			                  gnutls_strerror(ret));
		return out;
	}
	// The key text lives in wiped memory only (SecretBytes).
	auto text = TRY(read_secret_file(path_or_url));
	gnutls_x509_privkey_t key = nullptr;
	if (gnutls_x509_privkey_init(&key) < 0)
		return make_error(ENOMEM, "cannot allocate a private key");
	X509Privkey owned(key);
	gnutls_datum_t d{text.data(), static_cast<unsigned>(text.size())};
	int ret = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, nullptr, 0);
	if (ret < 0)
		return make_error(EINVAL, "no usable PEM private key in %s (%s)",
		                  path_or_url.c_str(), gnutls_strerror(ret));
	return abstract_key(std::move(owned));
}

namespace {

// A token may keep no public key beside a private one: then the key
// proves it belongs by signing, and the certificate's key verifies.
Result<void> check_key_signs_for(gnutls_x509_crt_t cert, gnutls_privkey_t key) {
	gnutls_pubkey_t raw = nullptr;
	if (gnutls_pubkey_init(&raw) < 0)
		return make_error(ENOMEM, "cannot allocate a public key");
	Pubkey pub(raw);
	if (gnutls_pubkey_import_x509(raw, cert, 0) < 0)
		return make_error(EINVAL, "the certificate's public key is unreadable");
	auto pk = static_cast<gnutls_pk_algorithm_t>(gnutls_pubkey_get_pk_algorithm(raw, nullptr));
	gnutls_sign_algorithm_t sign = gnutls_pk_to_sign(pk, GNUTLS_DIG_SHA256);
	static const unsigned char probe[] = "tlsupd: does this key belong to the certificate?";
	gnutls_datum_t data{const_cast<unsigned char *>(probe), sizeof(probe)};
	GnutlsDatum sig;
	int ret = gnutls_privkey_sign_data2(key, sign, 0, &data, sig.out());
	if (ret < 0)
		return make_error(EINVAL, "the private key cannot sign (%s)", gnutls_strerror(ret));
	if (gnutls_pubkey_verify_data2(raw, sign, 0, &data, &sig.get()) < 0)
		return make_error(EINVAL, "the private key does not belong to the certificate");
	return {};
}

} // namespace

Result<void> check_key_matches(gnutls_x509_crt_t cert, gnutls_privkey_t key) {
	gnutls_pubkey_t raw = nullptr;
	if (gnutls_pubkey_init(&raw) < 0)
		return make_error(ENOMEM, "cannot allocate a public key");
	Pubkey pub(raw);
	if (gnutls_pubkey_import_privkey(raw, key, 0, 0) < 0)
		return check_key_signs_for(cert, key);
	unsigned char a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);
	if (gnutls_x509_crt_get_key_id(cert, GNUTLS_KEYID_USE_SHA256, a, &alen) < 0 ||
	    gnutls_pubkey_get_key_id(raw, GNUTLS_KEYID_USE_SHA256, b, &blen) < 0)
		return make_error(EINVAL, "cannot compute key identifiers");
	if (alen != blen || std::memcmp(a, b, alen) != 0)
		return make_error(EINVAL, "the private key does not belong to the certificate");
	return {};
}

Result<CertifiedKey> CertifiedKey::make(std::vector<X509Crt> chain, Privkey key) {
	if (chain.empty() || !key)
		return make_error(EINVAL, "no certificate or no key");
	TRY(check_key_matches(chain.front().get(), key.get()));
	CertifiedKey out;
	out.pcerts_.reserve(chain.size());
	for (const auto &c : chain) {
		gnutls_pcert_st pc{};
		int ret = gnutls_pcert_import_x509(&pc, c.get(), 0);
		if (ret < 0)
			return make_error(ret == GNUTLS_E_MEMORY_ERROR ? ENOMEM : EINVAL,
			                  "certificate not usable: %s", gnutls_strerror(ret));
		out.pcerts_.push_back(pc);
	}
	out.chain_ = std::move(chain);
	out.key_ = std::move(key);
	return out;
}

CertifiedKey::CertifiedKey(CertifiedKey &&o) noexcept
    : chain_(std::move(o.chain_)), pcerts_(std::move(o.pcerts_)), key_(std::move(o.key_)) {
	o.pcerts_.clear();
}

CertifiedKey &CertifiedKey::operator=(CertifiedKey &&o) noexcept {
	if (this != &o) {
		release();
		chain_ = std::move(o.chain_);
		pcerts_ = std::move(o.pcerts_);
		o.pcerts_.clear();
		key_ = std::move(o.key_);
	}
	return *this;
}

CertifiedKey::~CertifiedKey() {
	release();
}

void CertifiedKey::release() {
	for (auto &pc : pcerts_)
		gnutls_pcert_deinit(&pc);
	pcerts_.clear();
}

gnutls_pk_algorithm_t CertifiedKey::algorithm() const {
	return static_cast<gnutls_pk_algorithm_t>(
	        gnutls_privkey_get_pk_algorithm(key_.get(), nullptr));
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

namespace {

// A warning for every configured file that others may read (keys) or
// replace (anything): tlsupd authenticates peers with them.
void warn_exposed_files(const Config &cfg, std::vector<std::string> &warnings) {
	struct Entry {
		const char *section, *key;
		const std::string *path;
		bool secret;
	};
	for (const auto &[section, p] : {std::pair{"authenticate.client", &cfg.client},
	                                 std::pair{"authenticate.server", &cfg.server}}) {
		const Entry entries[] = {
		        {section, "x509.truststore", &p->truststore, false},
		        {section, "x509.crl", &p->crl, false},
		        {section, "x509.certificate", &p->certificate, false},
		        {section, "x509.private_key", &p->private_key, true},
		        {section, "x509.pq.certificate", &p->pq_certificate, false},
		        {section, "x509.pq.private_key", &p->pq_private_key, true},
		};
		for (const Entry &e : entries) {
			if (e.path->empty() || is_gnutls_url(*e.path))
				continue;
			// A file that does not open is the load's error to report.
			auto f = open_configured_file(*e.path);
			if (!f)
				continue;
			std::string w = file_exposure(f->st, e.secret, ::geteuid());
			for (const auto &d : f->exposure)
				w += (w.empty() ? "" : "; ") + d;
			if (!w.empty())
				warnings.push_back(cfg.where(e.section, e.key) + ": " + *e.path +
				                   ": " + w);
		}
	}
}

} // namespace

Result<std::shared_ptr<const Credentials>> load_credentials(const Config &cfg) {
	auto creds = std::make_shared<Credentials>();
	warn_exposed_files(cfg, creds->warnings);
	TRY(load_trust(creds->client, cfg.client, cfg, "authenticate.client"));
	TRY(load_identity(creds->client, cfg.client, cfg, "authenticate.client", creds->warnings));
	TRY(load_trust(creds->server, cfg.server, cfg, "authenticate.server"));
	creds->server.clients = cfg.client_policy;
	TRY(load_identity(creds->server, cfg.server, cfg, "authenticate.server", creds->warnings));
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
