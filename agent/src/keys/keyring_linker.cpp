// SPDX-License-Identifier: GPL-2.0
#include "keyring_linker.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tlsup {

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

Result<key_serial_t> KeyringLinker::resolve(const std::string &name, const Log &log, Said &said) {
	auto id = resolve_keyring(name, trust_, [&](key_serial_t id, const Error &why) {
		if (!remember_refused(id))
			return;
		said.push_back([&log, name, id, reason = why.reason] {
			LOG_WARN(log, "keyring '%s' (%d) refused: %s", name.c_str(), id,
			         reason.c_str());
		});
	});
	if (id)
		std::erase(refused_, id.value()); // trusted now: a later refusal is news
	return id;
}

bool KeyringLinker::remember(std::vector<key_serial_t> &list, key_serial_t id) {
	if (std::find(list.begin(), list.end(), id) != list.end())
		return false;
	if (list.size() >= kMaxRemembered) // a user making keyrings in a loop
		list.clear();
	list.push_back(id);
	return true;
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
                                          const KeyringTrust &trust, const Publish &publish) {
	if (!holder_) {
		key_serial_t h =
		        add_key("keyring", "tlsupd:linked", nullptr, 0, KEY_SPEC_PROCESS_KEYRING);
		if (h < 0)
			return make_error(errno, "cannot create keyring tlsupd:linked: %s",
			                  strerror(errno));
		holder_ = h;
	}
	// The keyrings the published snapshot links, which an undo must leave.
	auto before = keyring_contents(holder_);
	if (!before)
		return make_error(errno, "cannot read keyring tlsupd:linked: %s", strerror(errno));
	// resolve(), link_checked() and is_consumer() go by the members: the
	// new configuration's while this call runs. A failure puts back the
	// old ones, which the still published snapshot was made under, for
	// the tick to go on checking it by.
	KeyringTrust old_trust = std::exchange(trust_, trust);
	std::vector<std::string> old_configured = std::exchange(configured_, configured);
	std::vector<key_serial_t> old_refused = std::exchange(refused_, {});
	std::vector<key_serial_t> old_unlinked = std::exchange(unlinked_, {});
	std::vector<key_serial_t> linked_here; // not held before this call
	auto fail = [&](const Error &e) -> Error {
		for (key_serial_t k : linked_here)
			keyctl_unlink(k, holder_);
		trust_ = std::move(old_trust);
		configured_ = std::move(old_configured);
		refused_ = std::move(old_refused);
		unlinked_ = std::move(old_unlinked);
		return e;
	};
	auto held_before = [&](key_serial_t id) {
		return std::find(before->begin(), before->end(), id) != before->end();
	};
	// Logged once the snapshot is published: a request that starts after
	// a line saying a keyring is (no longer) searched finds it so.
	Said said;
	LinkedKeyrings next;
	std::vector<std::string> missing, missing_psk;
	std::vector<std::pair<key_serial_t, std::string>> names;
	std::vector<std::string> all = configured;
	for (const auto &c : consumer_)
		if (std::find(all.begin(), all.end(), c) == all.end())
			all.push_back(c);
	for (const auto &name : all) {
		auto id = resolve(name, log, said);
		bool consumer = is_consumer(name);
		if (id) {
			// Held already, it is only checked: linking it again changes
			// nothing, and link_checked()'s unlink of one that fails
			// would outlive a failure below, while the snapshot still
			// published searches it. The sweep at the end lets go of it.
			bool held = held_before(id.value());
			auto linked = held ? check_keyring_trust(id.value(), trust_)
			                   : link_checked(id.value(), name);
			if (!linked && linked.error().code != EACCES)
				return fail(linked.error());
			if (!linked)
				id = linked.error();
			else if (!held && std::find(linked_here.begin(), linked_here.end(),
			                            id.value()) == linked_here.end())
				linked_here.push_back(id.value());
		}
		if (!id) {
			if (consumer && id.error().code == ENOKEY)
				said.push_back([&log, name] {
					LOG_DEBUG(log,
					          "keyring %s not present (linked when it appears)",
					          name.c_str());
				});
			else
				said.push_back([&log, where, name, reason = id.error().reason] {
					LOG_WARN(log,
					         "%skeyrings: keyring '%s' not linked: %s; "
					         "linked when it appears",
					         where.c_str(), name.c_str(), reason.c_str());
				});
			missing.push_back(name);
			continue;
		}
		said.push_back([&log, name, id = id.value(), consumer] {
			LOG_INFO(log, "linked keyring '%s' (%d)%s", name.c_str(), id,
			         consumer ? ": searched for its consumer's requests only"
			                  : ": searched for every request");
		});
		(consumer ? next.consumer : next.keyrings).push_back(id.value());
		names.emplace_back(id.value(), name);
	}
	for (const auto &name : psk) {
		auto id = resolve(name, log, said);
		if (!id) {
			said.push_back([&log, where, name, reason = id.error().reason] {
				LOG_WARN(log,
				         "%spsk_keyrings: keyring '%s': %s; used when it appears",
				         where.c_str(), name.c_str(), reason.c_str());
			});
			missing_psk.push_back(name);
			continue;
		}
		next.psk_keyrings.push_back(id.value());
		names.emplace_back(id.value(), name);
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
	names_ = std::move(names);
	missing_ = std::move(missing);
	missing_psk_ = std::move(missing_psk);
	if (publish)
		publish(linked_);
	for (const auto &say : said)
		say();
	return next;
}

bool KeyringLinker::recheck(const Log &log, Said &said) {
	bool changed = false;
	auto name_of = [&](key_serial_t id) {
		for (const auto &[k, name] : names_)
			if (k == id)
				return name;
		return std::to_string(id);
	};
	// Linked (searched, possessed) or resolved (psk_keyrings): all passed
	// the check once; an owner or mode changed since is seen here, at
	// the timer's bound, not at each request (that would be a keyctl()
	// per handshake). A keyring that cannot be described any more
	// (revoked) fails too: refused, as at start-up.
	std::vector<key_serial_t> told;
	auto drop = [&](std::vector<key_serial_t> &ids, std::vector<std::string> &missing,
	                bool linked) {
		std::erase_if(ids, [&](key_serial_t id) {
			auto ok = check_keyring_trust(id, trust_);
			if (ok)
				return false;
			std::string name = name_of(id);
			if (linked && keyctl_unlink(id, holder_) < 0 && errno != ENOENT)
				LOG_WARN(log, "cannot unlink keyring %d from tlsupd:linked: %s", id,
				         strerror(errno));
			remember_refused(id);
			if (std::find(missing.begin(), missing.end(), name) == missing.end())
				missing.push_back(name);
			changed = true;
			if (std::find(told.begin(), told.end(), id) != told.end())
				return true; // also a psk_keyring: said once
			told.push_back(id);
			said.push_back([&log, name, id, reason = ok.error().reason, linked] {
				LOG_WARN(log,
				         "keyring '%s' (%d) is no longer trusted: %s; %s, linked "
				         "again when a keyring of that name may be trusted",
				         name.c_str(), id, reason.c_str(),
				         linked ? "unlinked and no longer searched"
				                : "no longer used");
			});
			return true;
		});
	};
	drop(linked_.keyrings, missing_, true);
	drop(linked_.consumer, missing_, true);
	drop(linked_.psk_keyrings, missing_psk_, false);
	if (changed)
		std::erase_if(names_, [&](const auto &held) {
			auto in = [&](const std::vector<key_serial_t> &v) {
				return std::find(v.begin(), v.end(), held.first) != v.end();
			};
			return !in(linked_.keyrings) && !in(linked_.consumer) &&
			       !in(linked_.psk_keyrings);
		});
	return changed;
}

bool KeyringLinker::retry(const Log &log, const Publish &publish) {
	Said said;
	bool changed = recheck(log, said);
	for (auto it = missing_.begin(); it != missing_.end();) {
		auto id = resolve(*it, log, said);
		if (!id) {
			++it;
			continue;
		}
		if (auto linked = link_checked(id.value(), *it); !linked) {
			// EACCES: trusted when resolved, not once linked (its owner
			// or mode changed in between): a refusal like resolve()'s.
			if (linked.error().code == EACCES ? remember_refused(id.value())
			                                  : remember(unlinked_, id.value())) {
				said.push_back([&log, name = *it, id = id.value(),
				                reason = linked.error().reason] {
					LOG_WARN(log, "keyring '%s' (%d) not linked: %s",
					         name.c_str(), id, reason.c_str());
				});
			}
			++it;
			continue;
		}
		std::erase(unlinked_, id.value());
		bool consumer = is_consumer(*it);
		said.push_back([&log, name = *it, id = id.value(), consumer] {
			LOG_NOTICE(log, "keyring '%s' (%d) appeared: linked, %s", name.c_str(), id,
			           consumer ? "searched for its consumer's requests only"
			                    : "searched for every request");
		});
		(consumer ? linked_.consumer : linked_.keyrings).push_back(id.value());
		names_.emplace_back(id.value(), *it);
		it = missing_.erase(it);
		changed = true;
	}
	for (auto it = missing_psk_.begin(); it != missing_psk_.end();) {
		auto id = resolve(*it, log, said);
		if (!id) {
			++it;
			continue;
		}
		said.push_back([&log, name = *it, id = id.value()] {
			LOG_NOTICE(log, "PSK keyring '%s' (%d) appeared", name.c_str(), id);
		});
		linked_.psk_keyrings.push_back(id.value());
		names_.emplace_back(id.value(), *it);
		it = missing_psk_.erase(it);
		changed = true;
	}
	if (changed && publish)
		publish(linked_);
	for (const auto &say : said)
		say();
	return changed;
}

} // namespace tlsup
