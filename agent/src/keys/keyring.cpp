// SPDX-License-Identifier: GPL-2.0
#include "keyring.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
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

bool KeyringTrust::owner_trusted(uid_t uid) const {
	return uid == 0 || std::find(owners.begin(), owners.end(), uid) != owners.end();
}

Result<void> check_keyring_trust(key_serial_t key, const KeyringTrust &trust) {
	auto d = describe_key(key);
	if (!d)
		return d.error();
	if (d->type != "keyring")
		return make_error(EACCES, "key %d is a '%s' key, not a keyring", key,
		                  d->type.c_str());
	if (!trust.owner_trusted(d->uid))
		return make_error(EACCES,
		                  "keyring %d is owned by uid %u: only root%s may own a keyring "
		                  "tlsupd trusts",
		                  key, static_cast<unsigned>(d->uid),
		                  trust.owners.empty() ? "" : " and [authenticate] keyring_owners");
	key_perm_t bad = d->perm & kKeyringChangeByOthers;
	if ((d->perm & kKeyringLinkByOthers) && (d->perm & kKeyringChangeByPossessor))
		bad |= d->perm & (kKeyringChangeByPossessor | kKeyringLinkByOthers);
	if (bad) {
		std::string who;
		auto add = [&](key_perm_t bits, const char *what) {
			if (bad & bits)
				who += std::string(who.empty() ? "" : ", ") + what;
		};
		add(KEY_GRP_WRITE, "group write");
		add(KEY_GRP_SETATTR, "group setattr");
		add(KEY_OTH_WRITE, "other write");
		add(KEY_OTH_SETATTR, "other setattr");
		add(KEY_GRP_LINK, "group link");
		add(KEY_OTH_LINK, "other link");
		add(KEY_POS_WRITE, "possessor write");
		add(KEY_POS_SETATTR, "possessor setattr");
		key_perm_t fixed = d->perm & ~kKeyringChangeByOthers;
		if (fixed & kKeyringLinkByOthers)
			fixed &= ~kKeyringChangeByPossessor;
		return make_error(
		        EACCES,
		        "keyring %d (permissions %08x) lets users other than its owner "
		        "change it (%s%s); keyctl setperm %d 0x%08x",
		        key, d->perm, who.c_str(),
		        (bad & kKeyringLinkByOthers) ? ": who may link a keyring possesses it" : "",
		        key, fixed);
	}
	return {};
}

namespace {

// Every keyring named NAME this process can view, lowest serial first.
Result<std::vector<key_serial_t>> keyrings_named(const std::string &name) {
	std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen("/proc/keys", "re"), std::fclose);
	if (!f)
		return make_error(errno == ENOENT ? ENOKEY : errno, "cannot read /proc/keys: %s",
		                  strerror(errno));
	std::vector<key_serial_t> out;
	char line[1024];
	while (std::fgets(line, sizeof(line), f.get())) {
		bool whole = std::strchr(line, '\n') != nullptr;
		unsigned serial = 0;
		char type[64];
		// serial flags usage expiry perm uid gid type description...
		if (std::sscanf(line, "%x %*s %*s %*s %*x %*s %*s %63s", &serial, type) == 2 &&
		    std::strcmp(type, "keyring") == 0) {
			// The description the kernel shows is cut and followed by a
			// summary: the key's own description decides.
			key_serial_t id = static_cast<key_serial_t>(serial);
			auto d = describe_key(id);
			if (d && d->type == "keyring" && d->description == name)
				out.push_back(id);
		}
		// The rest of a line longer than the buffer.
		while (!whole && std::fgets(line, sizeof(line), f.get()))
			whole = std::strchr(line, '\n') != nullptr;
	}
	std::sort(out.begin(), out.end());
	return out;
}

} // namespace

Result<key_serial_t> resolve_keyring(const std::string &name, const KeyringTrust &trust,
                                     const RefusedKeyring &refused) {
	char *end = nullptr;
	errno = 0;
	long v = std::strtol(name.c_str(), &end, 0);
	if (!name.empty() && end && *end == '\0' && errno == 0) {
		if (v <= 0 || v > INT32_MAX)
			return make_error(EINVAL, "keyring '%s' is not a key serial", name.c_str());
		auto id = static_cast<key_serial_t>(v);
		if (auto ok = check_keyring_trust(id, trust); !ok) {
			if (ok.error().code != EACCES)
				return make_error(ENOKEY, "keyring %d not found", id);
			if (refused)
				refused(id, ok.error());
			return ok.error();
		}
		return id;
	}
	auto candidates = TRY(keyrings_named(name));
	if (candidates.empty())
		return make_error(ENOKEY, "keyring '%s' not found", name.c_str());
	for (key_serial_t id : candidates) {
		auto ok = check_keyring_trust(id, trust);
		if (ok)
			return id;
		if (refused)
			refused(id, ok.error());
	}
	return make_error(EACCES, "no keyring named '%s' may be trusted (%zu refused)",
	                  name.c_str(), candidates.size());
}

Result<key_serial_t> KeyringLinker::resolve(const std::string &name, const Log &log) {
	return resolve_keyring(name, trust_, [&](key_serial_t id, const Error &why) {
		if (std::find(refused_.begin(), refused_.end(), id) != refused_.end())
			return;
		if (refused_.size() >= kMaxRemembered) // a user making keyrings in a loop
			refused_.clear();
		refused_.push_back(id);
		LOG_WARN(log, "keyring '%s' (%d) refused: %s", name.c_str(), id,
		         why.reason.c_str());
	});
}

Result<void> KeyringLinker::link_checked(key_serial_t id, const std::string &name) {
	if (keyctl_link(id, holder_) < 0)
		return make_error(errno, "cannot link keyring '%s' (%d): %s", name.c_str(), id,
		                  strerror(errno));
	// Linked, it cannot go away; were it another key than the one checked
	// (the checked one gone, its serial given to a new key), or its owner
	// or mode changed meanwhile, this says so.
	if (auto ok = check_keyring_trust(id, trust_); !ok) {
		keyctl_unlink(id, holder_);
		return ok.error();
	}
	return {};
}

bool KeyringLinker::is_consumer(const std::string &name) const {
	return std::find(configured_.begin(), configured_.end(), name) == configured_.end() &&
	       std::find(consumer_.begin(), consumer_.end(), name) != consumer_.end();
}

Result<LinkedKeyrings> KeyringLinker::set(const std::vector<std::string> &configured,
                                          const std::vector<std::string> &psk,
                                          const std::string &where, const Log &log,
                                          const KeyringTrust &trust) {
	if (!holder_) {
		key_serial_t h =
		        add_key("keyring", "tlsupd:linked", nullptr, 0, KEY_SPEC_PROCESS_KEYRING);
		if (h < 0)
			return make_error(errno, "cannot create keyring tlsupd:linked: %s",
			                  strerror(errno));
		holder_ = h;
	}
	trust_ = trust;
	configured_ = configured;
	refused_.clear();
	LinkedKeyrings next;
	std::vector<std::string> missing, missing_psk;
	std::vector<std::string> all = configured;
	for (const auto &c : consumer_)
		if (std::find(all.begin(), all.end(), c) == all.end())
			all.push_back(c);
	for (const auto &name : all) {
		auto id = resolve(name, log);
		bool consumer = is_consumer(name);
		if (id) {
			auto linked = link_checked(id.value(), name);
			if (!linked && linked.error().code != EACCES)
				return linked.error();
			if (!linked)
				id = linked.error();
		}
		if (!id) {
			if (consumer && id.error().code == ENOKEY)
				LOG_DEBUG(log, "keyring %s not present (linked when it appears)",
				          name.c_str());
			else
				LOG_WARN(log,
				         "%skeyrings: keyring '%s' not linked: %s; linked when it "
				         "appears",
				         where.c_str(), name.c_str(), id.error().reason.c_str());
			missing.push_back(name);
			continue;
		}
		LOG_INFO(log, "linked keyring '%s' (%d)%s", name.c_str(), id.value(),
		         consumer ? ": searched for its consumer's requests only"
		                  : ": searched for every request");
		(consumer ? next.consumer : next.keyrings).push_back(id.value());
	}
	for (const auto &name : psk) {
		auto id = resolve(name, log);
		if (!id) {
			LOG_WARN(log, "%spsk_keyrings: keyring '%s': %s; used when it appears",
			         where.c_str(), name.c_str(), id.error().reason.c_str());
			missing_psk.push_back(name);
			continue;
		}
		next.psk_keyrings.push_back(id.value());
	}
	// What an earlier configuration linked and this one does not name.
	if (auto held = keyring_contents(holder_))
		for (key_serial_t k : *held)
			if (std::find(next.keyrings.begin(), next.keyrings.end(), k) ==
			            next.keyrings.end() &&
			    std::find(next.consumer.begin(), next.consumer.end(), k) ==
			            next.consumer.end())
				keyctl_unlink(k, holder_);
	linked_ = next;
	missing_ = std::move(missing);
	missing_psk_ = std::move(missing_psk);
	return next;
}

bool KeyringLinker::retry(const Log &log) {
	bool changed = false;
	for (auto it = missing_.begin(); it != missing_.end();) {
		auto id = resolve(*it, log);
		if (!id) {
			++it;
			continue;
		}
		if (auto linked = link_checked(id.value(), *it); !linked) {
			if (std::find(refused_.begin(), refused_.end(), id.value()) ==
			    refused_.end()) {
				if (refused_.size() >= kMaxRemembered)
					refused_.clear();
				refused_.push_back(id.value());
				LOG_WARN(log, "keyring '%s' (%d) not linked: %s", it->c_str(),
				         id.value(), linked.error().reason.c_str());
			}
			++it;
			continue;
		}
		bool consumer = is_consumer(*it);
		LOG_NOTICE(log, "keyring '%s' (%d) appeared: linked, %s", it->c_str(), id.value(),
		           consumer ? "searched for its consumer's requests only"
		                    : "searched for every request");
		(consumer ? linked_.consumer : linked_.keyrings).push_back(id.value());
		it = missing_.erase(it);
		changed = true;
	}
	for (auto it = missing_psk_.begin(); it != missing_psk_.end();) {
		auto id = resolve(*it, log);
		if (!id) {
			++it;
			continue;
		}
		LOG_NOTICE(log, "PSK keyring '%s' (%d) appeared", it->c_str(), id.value());
		linked_.psk_keyrings.push_back(id.value());
		it = missing_psk_.erase(it);
		changed = true;
	}
	return changed;
}

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
	// Kernel consumers look the key up by serial; other processes of our
	// user may read the (public) certificate but not change it.
	if (keyctl_setperm(id, KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | KEY_USR_SEARCH) < 0)
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
