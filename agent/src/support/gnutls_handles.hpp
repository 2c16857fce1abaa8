// SPDX-License-Identifier: GPL-2.0
//
// One owner for every GnuTLS object tlsupd creates.
#pragma once

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <memory>
#include <vector>

namespace tlsup {

namespace gnutls_deleters {
struct Session {
	void operator()(gnutls_session_t s) const { gnutls_deinit(s); }
};
struct CertCredentials {
	void operator()(gnutls_certificate_credentials_t c) const {
		gnutls_certificate_free_credentials(c);
	}
};
struct PskClientCredentials {
	void operator()(gnutls_psk_client_credentials_t c) const {
		gnutls_psk_free_client_credentials(c);
	}
};
struct PskServerCredentials {
	void operator()(gnutls_psk_server_credentials_t c) const {
		gnutls_psk_free_server_credentials(c);
	}
};
struct Crt {
	void operator()(gnutls_x509_crt_t c) const { gnutls_x509_crt_deinit(c); }
};
struct Privkey {
	void operator()(gnutls_x509_privkey_t k) const { gnutls_x509_privkey_deinit(k); }
};
struct TrustList {
	void operator()(gnutls_x509_trust_list_t l) const { gnutls_x509_trust_list_deinit(l, 1); }
};
struct AbstractPrivkey {
	void operator()(gnutls_privkey_t k) const { gnutls_privkey_deinit(k); }
};
struct Pubkey {
	void operator()(gnutls_pubkey_t k) const { gnutls_pubkey_deinit(k); }
};
struct Priority {
	void operator()(gnutls_priority_t p) const { gnutls_priority_deinit(p); }
};
} // namespace gnutls_deleters

using GnutlsSession = std::unique_ptr<gnutls_session_int, gnutls_deleters::Session>;
using CertCredentials =
        std::unique_ptr<gnutls_certificate_credentials_st, gnutls_deleters::CertCredentials>;
using PskClientCredentials =
        std::unique_ptr<gnutls_psk_client_credentials_st, gnutls_deleters::PskClientCredentials>;
using PskServerCredentials =
        std::unique_ptr<gnutls_psk_server_credentials_st, gnutls_deleters::PskServerCredentials>;
using X509Crt = std::unique_ptr<gnutls_x509_crt_int, gnutls_deleters::Crt>;
using X509Privkey = std::unique_ptr<gnutls_x509_privkey_int, gnutls_deleters::Privkey>;
using TrustList = std::unique_ptr<gnutls_x509_trust_list_st, gnutls_deleters::TrustList>;
using Priority = std::unique_ptr<gnutls_priority_st, gnutls_deleters::Priority>;
// A private key that may live in a PKCS#11 token or a TPM.
using Privkey = std::unique_ptr<gnutls_privkey_st, gnutls_deleters::AbstractPrivkey>;
using Pubkey = std::unique_ptr<gnutls_pubkey_st, gnutls_deleters::Pubkey>;

// A datum GnuTLS allocated.
class GnutlsDatum {
public:
	GnutlsDatum() = default;
	GnutlsDatum(const GnutlsDatum &) = delete;
	GnutlsDatum &operator=(const GnutlsDatum &) = delete;
	~GnutlsDatum() { gnutls_free(d_.data); }
	gnutls_datum_t *out() { return &d_; }
	const gnutls_datum_t &get() const { return d_; }

private:
	gnutls_datum_t d_{nullptr, 0};
};

} // namespace tlsup
