// SPDX-License-Identifier: GPL-2.0
#include "keyring.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace tlsup {

namespace {

struct FreeDeleter {
	void operator()(void *p) const { std::free(p); }
};

} // namespace

Result<SecretBytes> read_key(key_serial_t serial) {
	// One keyctl() for a payload that fits (a PSK, most certificates and
	// keys); keyctl_read_alloc() would ask for the size first.
	uint8_t buf[2048];
	long n = keyctl_read(serial, reinterpret_cast<char *>(buf), sizeof(buf));
	if (n < 0)
		return make_error(ENOKEY, "key %d cannot be read: %s", serial, strerror(errno));
	if (static_cast<size_t>(n) <= sizeof(buf)) {
		SecretBytes out(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
		explicit_bzero(buf, static_cast<size_t>(n));
		return out;
	}
	explicit_bzero(buf, sizeof(buf));
	void *raw = nullptr;
	n = keyctl_read_alloc(serial, &raw);
	if (n < 0)
		return make_error(ENOKEY, "key %d cannot be read: %s", serial, strerror(errno));
	std::unique_ptr<void, FreeDeleter> guard(raw);
	SecretBytes out(std::span<const uint8_t>(static_cast<const uint8_t *>(raw),
	                                         static_cast<size_t>(n)));
	explicit_bzero(raw, static_cast<size_t>(n));
	return out;
}

Result<KeyDescription> describe_key(key_serial_t serial) {
	// One keyctl() when the description fits, as keyctl_describe_alloc()
	// asks for the size first.
	char buf[1024];
	char *raw = buf;
	std::unique_ptr<char, FreeDeleter> guard;
	long n = keyctl_describe(serial, buf, sizeof(buf));
	if (n >= 0 && static_cast<size_t>(n) > sizeof(buf)) {
		if (keyctl_describe_alloc(serial, &raw) < 0)
			n = -1;
		else
			guard.reset(raw);
	}
	if (n < 0)
		return make_error(ENOKEY, "key %d cannot be described: %s", serial,
		                  strerror(errno));
	// "type;uid;gid;perm;description": the description is everything after
	// the fourth ';' and may itself contain ';'.
	const char *field[4] = {raw, nullptr, nullptr, nullptr};
	const char *p = raw;
	for (int i = 0; i < 4; i++) {
		p = std::strchr(p, ';');
		if (!p)
			return make_error(EIO, "key %d has a malformed description", serial);
		p++;
		if (i < 3)
			field[i + 1] = p;
	}
	KeyDescription d;
	d.type.assign(raw, static_cast<size_t>(field[1] - 1 - raw));
	d.description = p;
	char *end = nullptr;
	d.uid = static_cast<uid_t>(std::strtoul(field[1], &end, 10));
	bool ok = end && *end == ';';
	d.gid = static_cast<gid_t>(std::strtoul(field[2], &end, 10));
	ok = ok && end && *end == ';';
	d.perm = static_cast<key_perm_t>(std::strtoul(field[3], &end, 16));
	if (!ok || !end || *end != ';')
		return make_error(EIO, "key %d has a malformed description", serial);
	return d;
}

Result<std::string> key_description(key_serial_t serial) {
	return TRY(describe_key(serial)).description;
}

std::optional<std::vector<key_serial_t>> keyring_contents(key_serial_t keyring) {
	// One read into room for 256 links, which holds any keyring tlsupd
	// reads on every ACCEPT; keyctl_read_alloc() asks for the size first.
	key_serial_t ids[256];
	long n = keyctl_read(keyring, reinterpret_cast<char *>(ids), sizeof(ids));
	if (n < 0)
		return std::nullopt;
	if (static_cast<size_t>(n) <= sizeof(ids))
		return std::vector<key_serial_t>(ids, ids + static_cast<size_t>(n) /
		                                                      sizeof(key_serial_t));
	void *raw = nullptr;
	n = keyctl_read_alloc(keyring, &raw);
	if (n < 0)
		return std::nullopt;
	std::unique_ptr<void, FreeDeleter> guard(raw);
	auto *all = static_cast<key_serial_t *>(raw);
	return std::vector<key_serial_t>(all, all + static_cast<size_t>(n) / sizeof(key_serial_t));
}

namespace {

bool is_exactly(key_serial_t id, const char *type, const std::string &description) {
	auto d = describe_key(id);
	return d && d->type == type && d->description == description;
}

// What keyctl_search does, but matching the description exactly; as deep
// as the kernel searches (KEYRING_SEARCH_MAX_DEPTH).
key_serial_t walk_for_exact(key_serial_t ring, const char *type, const std::string &description,
                            int depth) {
	auto contents = keyring_contents(ring);
	if (!contents)
		return 0;
	for (key_serial_t id : *contents)
		if (is_exactly(id, type, description))
			return id;
	if (depth >= 6)
		return 0;
	for (key_serial_t id : *contents) {
		auto d = describe_key(id);
		if (d && d->type == "keyring")
			if (key_serial_t found = walk_for_exact(id, type, description, depth + 1))
				return found;
	}
	return 0;
}

} // namespace

key_serial_t search_keyrings(std::span<const key_serial_t> keyrings, const char *type,
                             const std::string &description) {
	for (key_serial_t ring : keyrings) {
		if (ring <= 0)
			continue;
		long id = keyctl_search(ring, type, description.c_str(), 0);
		if (id <= 0)
			continue;
		if (is_exactly(static_cast<key_serial_t>(id), type, description))
			return static_cast<key_serial_t>(id);
		// A looser match of the key type's: look for the exact one.
		if (key_serial_t exact = walk_for_exact(ring, type, description, 1))
			return exact;
	}
	return 0;
}

Result<key_serial_t> ensure_process_keyring() {
	key_serial_t id = keyctl_get_keyring_ID(KEY_SPEC_PROCESS_KEYRING, 1);
	if (id < 0)
		return make_error(errno, "cannot create the process keyring: %s", strerror(errno));
	return id;
}

} // namespace tlsup
