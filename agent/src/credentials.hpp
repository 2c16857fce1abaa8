// SPDX-License-Identifier: GPL-2.0
//
// Configured x509 material, parsed once per (re)load: trust stores with
// their CRLs, and the fallback certificate chain and key for each role.
// Handshakes take an immutable snapshot; a reload swaps in a new one while
// handshakes in flight finish with the old.
#pragma once

#include <keyutils.h>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config.hpp"
#include "gnutls_handles.hpp"
#include "keyring.hpp"
#include "result.hpp"

namespace tlsup {

// A certificate chain (leaf first) and its private key.
struct X509Identity {
	std::vector<X509Crt> chain;
	X509Privkey key;
};

struct RoleMaterial {
	TrustList trust; // CAs and CRLs that verify the peer
	unsigned ca_count = 0;
	unsigned crl_count = 0;
	std::optional<X509Identity> identity; // from the configuration, if any
};

struct Credentials {
	RoleMaterial client;     // used for ClientHello requests
	RoleMaterial server;     // used for ServerHello requests
	LinkedKeyrings keyrings; // linked at the same (re)load
	// For the log at every (re)load, at warning priority.
	std::vector<std::string> warnings;
};

// Loads both roles. Errors name the configuration line of the offending key.
Result<std::shared_ptr<const Credentials>> load_credentials(const Config &cfg,
                                                            LinkedKeyrings keyrings = {});

// Parses a certificate chain given as DER (one certificate, or several
// concatenated, as a key payload may hold).
Result<std::vector<X509Crt>> import_der_chain(std::span<const uint8_t> der);
// Parses a DER private key (PKCS#8, PKCS#1 or SEC1).
Result<X509Privkey> import_der_privkey(std::span<const uint8_t> der);
// Fails unless KEY is the private key of CERT's public key.
Result<void> check_key_matches(gnutls_x509_crt_t cert, gnutls_x509_privkey_t key);

class CredentialStore {
public:
	std::shared_ptr<const Credentials> snapshot() const {
		std::lock_guard lock(mu_);
		return current_;
	}
	void replace(std::shared_ptr<const Credentials> next) {
		std::lock_guard lock(mu_);
		current_ = std::move(next);
	}

private:
	mutable std::mutex mu_;
	std::shared_ptr<const Credentials> current_;
};

} // namespace tlsup
