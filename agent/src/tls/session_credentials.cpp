// SPDX-License-Identifier: GPL-2.0
#include "session_credentials.hpp"

#include <optional>
#include <vector>

#include "credentials.hpp"
#include "keyring.hpp"

namespace tlsup {

namespace {

// The first pair the kernel named, if any.
Result<std::optional<KeyPair>> kernel_pair(const SessionSetup &setup) {
	for (const auto &c : setup.certificates) {
		if (c.cert == 0 && c.privkey == 0)
			continue;
		if (c.cert == 0 || c.privkey == 0)
			return make_error(EINVAL, "CERTIFICATE names a %s without a %s (%d, %d)",
			                  c.cert ? "certificate" : "private key",
			                  c.cert ? "private key" : "certificate", c.cert,
			                  c.privkey);
		return std::optional<KeyPair>(c);
	}
	return std::optional<KeyPair>();
}

// An identity read from the kernel's key serials.
Result<CertifiedKey> identity_from_keys(const KeyPair &pair) {
	auto cert_der = TRY(read_key(pair.cert));
	auto key_der = TRY(read_key(pair.privkey));
	auto chain = import_der_chain(cert_der.span());
	if (!chain)
		return make_error(ENOKEY, "certificate key %d: %s", pair.cert,
		                  chain.error().reason.c_str());
	auto x509 = import_der_privkey(key_der.span());
	if (!x509)
		return make_error(ENOKEY, "private key %d: %s", pair.privkey,
		                  x509.error().reason.c_str());
	auto key = abstract_key(std::move(x509).value());
	if (!key)
		return make_error(ENOKEY, "private key %d: %s", pair.privkey,
		                  key.error().reason.c_str());
	auto ck = CertifiedKey::make(std::move(chain).value(), std::move(key).value());
	if (!ck)
		return make_error(ENOKEY, "keys %d/%d: %s", pair.cert, pair.privkey,
		                  ck.error().reason.c_str());
	return ck;
}

// Whether the peer announced a signature algorithm KEY can sign with (a
// server: the ClientHello's; a client: the CertificateRequest's).
bool peer_can_verify(gnutls_session_t session, const CertifiedKey &key) {
	gnutls_pk_algorithm_t pk = key.algorithm();
	for (unsigned i = 0;; i++) {
		gnutls_sign_algorithm_t sign = GNUTLS_SIGN_UNKNOWN;
		if (gnutls_sign_algorithm_get_requested(session, i, &sign) < 0)
			return false;
		if (gnutls_sign_supports_pk_algorithm(sign, pk))
			return true;
	}
}

} // namespace

Result<PresentedIdentity> choose_identity(const SessionSetup &setup) {
	PresentedIdentity out;
	if (auto pair = TRY(kernel_pair(setup))) {
		out.from_kernel = TRY(identity_from_keys(*pair));
		return out;
	}
	const RoleMaterial &material =
	        setup.role == Role::Client ? setup.credentials->client : setup.credentials->server;
	out.configured = material.identity ? &*material.identity : nullptr;
	out.alternative = material.pq_identity ? &*material.pq_identity : nullptr;
	if (!out.configured && out.alternative)
		std::swap(out.configured, out.alternative);
	if (!out.configured) {
		const char *r = setup.role == Role::Client ? "client" : "server";
		return make_error(ENOKEY,
		                  "no %s certificate: none in the request and none configured "
		                  "([authenticate.%s] x509.certificate)",
		                  r, r);
	}
	return out;
}

const CertifiedKey *select_identity(const PresentedIdentity &identity, gnutls_session_t session) {
	if (identity.alternative && peer_can_verify(session, *identity.alternative))
		return identity.alternative;
	return identity.primary();
}

Result<CertCredentials> certificate_credentials(gnutls_certificate_retrieve_function2 *retrieve) {
	gnutls_certificate_credentials_t raw = nullptr;
	if (gnutls_certificate_allocate_credentials(&raw) < 0)
		return make_error(ENOMEM, "cannot allocate certificate credentials");
	if (retrieve)
		gnutls_certificate_set_retrieve_function2(raw, retrieve);
	return CertCredentials(raw);
}

Result<PskClientCredentials> psk_client_credentials(const Psk &psk) {
	gnutls_psk_client_credentials_t raw = nullptr;
#ifdef TLSUP_HAVE_PSK_CREDENTIALS2
	gnutls_mac_algorithm_t mac = psk.key.size() == 48 ? GNUTLS_MAC_SHA384 : GNUTLS_MAC_SHA256;
	int ret = gnutls_psk_allocate_client_credentials2(&raw, mac);
#else
	int ret = gnutls_psk_allocate_client_credentials(&raw);
#endif
	if (ret < 0)
		return make_error(ENOMEM, "cannot allocate PSK credentials");
	PskClientCredentials cred(raw);
	gnutls_datum_t k{const_cast<unsigned char *>(psk.key.data()),
	                 static_cast<unsigned>(psk.key.size())};
	ret = gnutls_psk_set_client_credentials(raw, psk.identity.c_str(), &k, GNUTLS_PSK_KEY_RAW);
	if (ret < 0)
		return make_error(EINVAL, "PSK %d not usable: %s", psk.serial,
		                  gnutls_strerror(ret));
	return cred;
}

Result<PskServerCredentials>
psk_server_credentials(gnutls_psk_server_credentials_function2 *lookup) {
	gnutls_psk_server_credentials_t raw = nullptr;
#ifdef TLSUP_HAVE_PSK_CREDENTIALS2
	// The binder hash then follows the negotiated suite, as in ktls-utils.
	int ret = gnutls_psk_allocate_server_credentials2(&raw, GNUTLS_MAC_UNKNOWN);
#else
	int ret = gnutls_psk_allocate_server_credentials(&raw);
#endif
	if (ret < 0)
		return make_error(ENOMEM, "cannot allocate PSK credentials");
	gnutls_psk_set_server_credentials_function2(raw, lookup);
	return PskServerCredentials(raw);
}

} // namespace tlsup
