// SPDX-License-Identifier: GPL-2.0
#include "peer_keys.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

namespace tlsup {

namespace {

constexpr const char *kPeerCertificateKeyring = "tlsupd:peer-certificates";

std::string fingerprint_name(std::span<const uint8_t> der) {
	uint8_t digest[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data(), der.size(), digest) < 0)
		return {};
	std::string desc = std::string(kAgentKeyPrefix) + "x509:sha256:";
	static constexpr char hex[] = "0123456789abcdef";
	for (uint8_t b : digest) {
		desc += hex[b >> 4];
		desc += hex[b & 15];
	}
	return desc;
}

} // namespace

Result<PeerCertificateKeys> PeerCertificateKeys::create() {
	key_serial_t ring =
	        add_key("keyring", kPeerCertificateKeyring, nullptr, 0, KEY_SPEC_PROCESS_KEYRING);
	if (ring < 0)
		return make_error(errno, "cannot create keyring %s: %s", kPeerCertificateKeyring,
		                  strerror(errno));
	return PeerCertificateKeys(ring);
}

Result<key_serial_t> PeerCertificateKeys::store(std::span<const uint8_t> der,
                                                time_t not_after) const {
	std::string desc = fingerprint_name(der);
	if (desc.empty())
		return make_error(EIO, "cannot fingerprint the peer certificate");
	time_t now = time(nullptr);
	// ktls-utils' type first; the kernel parses the certificate itself,
	// and refuses what its X.509 parser or crypto cannot handle (ECDSA
	// without CONFIG_CRYPTO_ECDSA, or no CONFIG_ASYMMETRIC_KEY_TYPE at
	// all): then the DER goes in a "user" key.
	// An "asymmetric" key cannot be updated: adding it again would make a
	// new key each time. Keep the one we have.
	std::lock_guard lock(*mu_);
	// The same certificate again (a reconnect storm is many of them): the
	// key stored a moment ago, not three keyctl() calls. Only this process
	// may change or unlink keys in its keyring; each is stored afresh
	// (found, its permissions and expiry set again) once a minute.
	if (auto it = cache_->find(desc); it != cache_->end() && now < it->second.refresh_at)
		return it->second.id;
	long have = keyctl_search(keyring_, "asymmetric", desc.c_str(), 0);
	key_serial_t id =
	        have > 0 ? static_cast<key_serial_t>(have)
	                 : add_key("asymmetric", desc.c_str(), der.data(), der.size(), keyring_);
	if (id < 0 && (errno == ENOMEM || errno == EDQUOT))
		return make_error(ENOMEM, "cannot store the peer certificate: %s", strerror(errno));
	if (id < 0)
		id = add_key("user", desc.c_str(), der.data(), der.size(), keyring_);
	if (id < 0)
		return make_error(errno == ENOMEM || errno == EDQUOT ? ENOMEM : EIO,
		                  "cannot store the peer certificate in keyring %d: %s", keyring_,
		                  strerror(errno));
	// Kernel consumers look the key up by serial (key_lookup(): no
	// permission check); other processes of our user (any other root
	// process) may describe and read the (public) certificate, but not
	// change it, nor search for it: keyctl_invalidate needs only search,
	// and the cache above trusts that the key lives (the agent possesses
	// it through its process keyring: POS_SEARCH for its own lookups).
	if (keyctl_setperm(id, KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ) < 0)
		return make_error(EIO, "cannot set permissions on key %d: %s", id, strerror(errno));
	time_t left = not_after > now ? not_after - now : 1;
	unsigned timeout = left < static_cast<time_t>(kPeerKeyLifetime)
	                           ? static_cast<unsigned>(left)
	                           : kPeerKeyLifetime;
	if (keyctl_set_timeout(id, timeout) < 0)
		return make_error(EIO, "cannot set the expiry of key %d: %s", id, strerror(errno));
	// Reused while at least half its life is left, and for a minute at most.
	if (cache_->size() >= kCachedPeerKeys)
		cache_->clear();
	(*cache_)[desc] = {id, now + std::min<time_t>(timeout / 2, kPeerKeyRefresh)};
	return id;
}

} // namespace tlsup
