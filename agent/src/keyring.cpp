// SPDX-License-Identifier: GPL-2.0
#include "keyring.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <memory>

namespace tlsup {

namespace {

struct FreeDeleter {
	void operator()(void *p) const { std::free(p); }
};

} // namespace

Result<SecretBytes> read_key(key_serial_t serial) {
	void *raw = nullptr;
	int n = keyctl_read_alloc(serial, &raw);
	if (n < 0)
		return make_error(ENOKEY, "key %d cannot be read: %s", serial, strerror(errno));
	std::unique_ptr<void, FreeDeleter> guard(raw);
	SecretBytes out(std::span<const uint8_t>(static_cast<const uint8_t *>(raw),
	                                         static_cast<size_t>(n)));
	explicit_bzero(raw, static_cast<size_t>(n));
	return out;
}

Result<std::string> key_description(key_serial_t serial) {
	char *raw = nullptr;
	if (keyctl_describe_alloc(serial, &raw) < 0)
		return make_error(ENOKEY, "key %d cannot be described: %s", serial,
		                  strerror(errno));
	std::unique_ptr<char, FreeDeleter> guard(raw);
	// "type;uid;gid;perm;description": the description is everything after
	// the fourth ';' and may itself contain ';'.
	const char *p = raw;
	for (int i = 0; i < 4; i++) {
		p = std::strchr(p, ';');
		if (!p)
			return make_error(EIO, "key %d has a malformed description", serial);
		p++;
	}
	return std::string(p);
}

Result<key_serial_t> search_psk(std::span<const key_serial_t> keyrings,
                                const std::string &identity) {
	for (key_serial_t ring : keyrings) {
		for (const char *type : {"psk", "user"}) {
			long id = keyctl_search(ring, type, identity.c_str(), 0);
			if (id > 0)
				return static_cast<key_serial_t>(id);
		}
	}
	return make_error(EKEYREJECTED, "no key for PSK identity '%s'", identity.c_str());
}

Result<key_serial_t> ensure_process_keyring() {
	key_serial_t id = keyctl_get_keyring_ID(KEY_SPEC_PROCESS_KEYRING, 1);
	if (id < 0)
		return make_error(errno, "cannot create the process keyring: %s", strerror(errno));
	return id;
}

Result<key_serial_t> resolve_keyring(const std::string &name) {
	char *end = nullptr;
	errno = 0;
	long v = std::strtol(name.c_str(), &end, 0);
	if (!name.empty() && end && *end == '\0' && errno == 0) {
		if (v <= 0 || v > INT32_MAX)
			return make_error(EINVAL, "keyring '%s' is not a key serial", name.c_str());
		return static_cast<key_serial_t>(v);
	}
	key_serial_t id = find_key_by_type_and_desc("keyring", name.c_str(), 0);
	if (id < 0)
		return make_error(ENOKEY, "keyring '%s' not found", name.c_str());
	return id;
}

Result<std::vector<key_serial_t>> link_keyrings(const std::vector<std::string> &configured,
                                                const Log &log) {
	std::vector<key_serial_t> linked;
	auto link_one = [&](key_serial_t id, const std::string &name) -> Result<void> {
		if (keyctl_link(id, KEY_SPEC_PROCESS_KEYRING) < 0)
			return make_error(errno, "cannot link keyring '%s' (%d): %s", name.c_str(),
			                  id, strerror(errno));
		LOG_INFO(log, "linked keyring '%s' (%d) into the process keyring", name.c_str(),
		         id);
		linked.push_back(id);
		return {};
	};
	for (const auto &name : configured)
		TRY(link_one(TRY(resolve_keyring(name)), name));
	for (const char *name : kConsumerKeyrings) {
		auto id = resolve_keyring(name);
		if (!id) {
			LOG_DEBUG(log, "keyring %s not present", name);
			continue;
		}
		TRY(link_one(id.value(), name));
	}
	return linked;
}

Result<key_serial_t> store_peer_certificate(std::span<const uint8_t> der, key_serial_t dest) {
	uint8_t digest[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data(), der.size(), digest) < 0)
		return make_error(EIO, "cannot fingerprint the peer certificate");
	std::string desc = "tlsupd:x509:sha256:";
	static constexpr char hex[] = "0123456789abcdef";
	for (uint8_t b : digest) {
		desc += hex[b >> 4];
		desc += hex[b & 15];
	}
	key_serial_t ring = dest > 0 ? dest : KEY_SPEC_PROCESS_KEYRING;
	key_serial_t id = add_key("user", desc.c_str(), der.data(), der.size(), ring);
	if (id < 0)
		return make_error(errno == ENOMEM ? ENOMEM : EIO,
		                  "cannot store the peer certificate in keyring %d: %s", ring,
		                  strerror(errno));
	// Kernel consumers look the key up by serial; other users may read the
	// (public) certificate but not change it.
	if (keyctl_setperm(id, KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | KEY_USR_SEARCH) < 0)
		return make_error(EIO, "cannot set permissions on key %d: %s", id, strerror(errno));
	return id;
}

} // namespace tlsup
