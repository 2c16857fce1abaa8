// SPDX-License-Identifier: GPL-2.0
//
// The keys that hold verified peer certificates: their serials go back to
// the consumer in REMOTE_AUTH.
#pragma once

#include <ctime>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "keyring.hpp"

namespace tlsup {

// Where verified peer certificates are kept: a keyring of the agent's own
// ("tlsupd:peer-certificates" in the process keyring) that no PSK lookup
// reads. Each certificate is an "asymmetric" key where the kernel can parse
// it (as ktls-utils stores them), else a "user" key holding the DER; named
// after its SHA-256 fingerprint, readable by its owner's user, and expiring
// with the certificate (at most kPeerKeyLifetime from now).
class PeerCertificateKeys {
public:
	static constexpr unsigned kPeerKeyLifetime = 24 * 3600; // seconds

	// Start-up, after ensure_process_keyring().
	static Result<PeerCertificateKeys> create();

	// The key for DER (a verified leaf certificate), valid until NOT_AFTER.
	// The same certificate again: the same key, its expiry renewed (at
	// most once a minute: within that, the key stored last is returned
	// without asking the kernel).
	Result<key_serial_t> store(std::span<const uint8_t> der, time_t not_after) const;

	key_serial_t keyring() const { return keyring_; }

	// Forgets which keys store() made: the next store() asks the kernel
	// again. For tests that unlink them behind its back.
	void forget_stored() const {
		std::lock_guard lock(*mu_);
		cache_->clear();
	}

private:
	explicit PeerCertificateKeys(key_serial_t ring)
	    : keyring_(ring), mu_(std::make_unique<std::mutex>()),
	      cache_(std::make_unique<std::unordered_map<std::string, Stored>>()) {}
	static constexpr time_t kPeerKeyRefresh = 60; // seconds
	static constexpr size_t kCachedPeerKeys = 4096;
	struct Stored {
		key_serial_t id;
		time_t refresh_at; // store afresh from then on
	};
	key_serial_t keyring_ = 0;
	// Workers store at once; search-then-add must be one step, or a second
	// add of an "asymmetric" key displaces the first (a dead serial).
	std::unique_ptr<std::mutex> mu_;
	// By key description (the certificate's fingerprint), under mu_.
	std::unique_ptr<std::unordered_map<std::string, Stored>> cache_;
};

} // namespace tlsup
