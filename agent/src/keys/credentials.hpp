// SPDX-License-Identifier: GPL-2.0
//
// Configured x509 material, parsed once per (re)load: trust stores with
// their CRLs, and the fallback certificate chain and key for each role.
// Handshakes take an immutable snapshot; a reload swaps in a new one while
// handshakes in flight finish with the old.
#pragma once

#include <sys/stat.h>

#include <keyutils.h>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config.hpp"
#include "configured_file.hpp"
#include "gnutls_handles.hpp"
#include "keyring.hpp"
#include "pi_mutex.hpp"
#include "result.hpp"

namespace tlsup {

// A certificate chain (leaf first) and its private key, as GnuTLS
// presents them: a pcert list and an abstract key, which may be in memory
// or in a PKCS#11 token or TPM (a GnuTLS URL: pkcs11:, tpmkey:).
// Immutable once made; shared by every session that presents it.
class CertifiedKey {
public:
	// Fails unless KEY belongs to the leaf's public key.
	static Result<CertifiedKey> make(std::vector<X509Crt> chain, Privkey key);
	CertifiedKey(CertifiedKey &&o) noexcept;
	CertifiedKey &operator=(CertifiedKey &&o) noexcept;
	CertifiedKey(const CertifiedKey &) = delete;
	CertifiedKey &operator=(const CertifiedKey &) = delete;
	~CertifiedKey();

	// For gnutls_certificate_retrieve_function2, which does not take
	// ownership (hence the casts away from const there).
	const gnutls_pcert_st *pcerts() const { return pcerts_.data(); }
	unsigned count() const { return static_cast<unsigned>(pcerts_.size()); }
	gnutls_privkey_t key() const { return key_.get(); }
	gnutls_pk_algorithm_t algorithm() const;
	gnutls_x509_crt_t leaf() const { return chain_.front().get(); }

private:
	CertifiedKey() = default;
	void release();
	std::vector<X509Crt> chain_;
	std::vector<gnutls_pcert_st> pcerts_;
	Privkey key_;
};

struct RoleMaterial {
	TrustList trust; // CAs and CRLs that verify the peer
	unsigned ca_count = 0;
	unsigned crl_count = 0;
	std::optional<CertifiedKey> identity; // x509.certificate, x509.private_key
	// x509.pq.certificate, x509.pq.private_key: presented instead when the
	// peer's signature algorithms can verify it (ML-DSA in ktls-utils).
	std::optional<CertifiedKey> pq_identity;
	// Server role: which of the clients the trust store verifies are
	// accepted ([authenticate.server] x509.client_auth/client_allowed_sans).
	ClientPolicy clients;
};

struct Credentials {
	RoleMaterial client; // used for ClientHello requests
	RoleMaterial server; // used for ServerHello requests
	// For the log at every (re)load, at warning priority.
	std::vector<std::string> warnings;
};

// Loads both roles. Errors name the configuration line of the offending key.
Result<std::shared_ptr<const Credentials>> load_credentials(const Config &cfg);

// Parses a certificate chain given as DER (one certificate, or several
// concatenated, as a key payload may hold).
Result<std::vector<X509Crt>> import_der_chain(std::span<const uint8_t> der);
// Parses a DER private key (PKCS#8, PKCS#1 or SEC1).
Result<X509Privkey> import_der_privkey(std::span<const uint8_t> der);
// Fails unless KEY is the private key of CERT's public key.
Result<void> check_key_matches(gnutls_x509_crt_t cert, gnutls_x509_privkey_t key);
Result<void> check_key_matches(gnutls_x509_crt_t cert, gnutls_privkey_t key);
// An abstract key wrapping KEY (which it then owns).
Result<Privkey> abstract_key(X509Privkey key);
// x509.private_key: a GnuTLS URL (pkcs11:, tpmkey:; a PIN may ride in the
// URL as pin-value) or a PEM file, read into wiped memory.
Result<Privkey> load_private_key(const std::string &path_or_url);

class CredentialStore {
public:
	std::shared_ptr<const Credentials> snapshot() const {
		std::lock_guard lock(mu_);
		return current_;
	}
	// The old credentials are let go after the lock: freeing them (trust
	// lists, a PKCS#11 session) must not hold up the acceptor.
	void replace(std::shared_ptr<const Credentials> next) {
		{
			std::lock_guard lock(mu_);
			current_.swap(next);
		}
		next.reset();
	}

private:
	mutable PiMutex mu_; // the acceptor reads what the main thread sets
	std::shared_ptr<const Credentials> current_;
};

} // namespace tlsup
