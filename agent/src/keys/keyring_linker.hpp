// SPDX-License-Identifier: GPL-2.0
//
// The keyrings tlsupd trusts and links: configured keyrings by name or
// serial, checked for their owner and mode (check_keyring_trust), linked
// into tlsupd:linked with the consumer keyrings as they appear
// (KeyringLinker), and the snapshot lookups use (KeyringStore).
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "keyring.hpp"
#include "log.hpp"
#include "pi_mutex.hpp"

namespace tlsup {

// Who may own a keyring tlsupd links or searches by configuration: root,
// and the uids the administrator names ([authenticate] keyring_owners).
struct KeyringTrust {
	std::vector<uid_t> owners; // besides root
	bool owner_trusted(uid_t uid) const;
};

// The permission bits that let someone other than the owner change what a
// keyring holds: write (add, remove or clear keys) and setattr (revoke it,
// set its expiry); in the group and the other byte. And link: who may link
// a keyring into their own possesses it, so the group's or others' link
// bit is harmless only if a possessor may not write or set attributes.
constexpr key_perm_t kKeyringChangeByOthers =
        KEY_GRP_WRITE | KEY_GRP_SETATTR | KEY_OTH_WRITE | KEY_OTH_SETATTR;
constexpr key_perm_t kKeyringLinkByOthers = KEY_GRP_LINK | KEY_OTH_LINK;
constexpr key_perm_t kKeyringChangeByPossessor = KEY_POS_WRITE | KEY_POS_SETATTR;

// Whether tlsupd may trust KEY as a keyring of PSKs: a keyring, owned by
// root or one of TRUST's owners, that no one but its owner (and root, when
// root owns it) may change: see the masks above. EACCES with the reason
// (owner, mode bits, the setperm that fixes it) when not; ENOKEY when it
// cannot be described.
Result<void> check_keyring_trust(key_serial_t key, const KeyringTrust &trust);

// Hears of each keyring passed over while resolving a name, and why.
using RefusedKeyring = std::function<void(key_serial_t, const Error &)>;

// A configured keyring: a serial number, or a name. Every keyring of that
// name this process can see (/proc/keys lists every user's keyrings that
// grant view, whoever made them) is a candidate; the one chosen is the
// lowest serial that check_keyring_trust() accepts, and REFUSED hears of
// the others. ENOKEY when no keyring has the name, EACCES when none of
// those that do may be trusted. A serial must pass the same check.
// Start-up, reload and the retry timer only (reads /proc/keys).
Result<key_serial_t> resolve_keyring(const std::string &name_or_serial,
                                     const KeyringTrust &trust = {},
                                     const RefusedKeyring &refused = {});

struct LinkedKeyrings {
	// [authenticate] keyrings: linked, and searched for every request (the
	// administrator shares them between consumers).
	std::vector<key_serial_t> keyrings;
	// The kConsumerKeyrings that exist: linked, so that the agent possesses
	// the keys the kernel names in them, but searched only for a request
	// whose own keyring each is -- one consumer's PSK is not another's.
	std::vector<key_serial_t> consumer;
	// [authenticate] psk_keyrings: where a "user" key is a PSK too, when
	// the keyring is searched (as a request's keyring or a configured one).
	std::vector<key_serial_t> psk_keyrings;
};

// The keyrings lookups use, as one snapshot: workers take it at each
// ACCEPT, the agent replaces it when keyrings are linked.
class KeyringStore {
public:
	std::shared_ptr<const LinkedKeyrings> snapshot() const {
		std::lock_guard lock(mu_);
		return current_ ? current_ : std::make_shared<const LinkedKeyrings>();
	}
	// Built before and let go after the lock (see CredentialStore).
	void replace(LinkedKeyrings next) {
		auto fresh = std::make_shared<const LinkedKeyrings>(std::move(next));
		{
			std::lock_guard lock(mu_);
			current_.swap(fresh);
		}
		fresh.reset();
	}

private:
	mutable PiMutex mu_; // the acceptor reads what the main thread sets
	std::shared_ptr<const LinkedKeyrings> current_;
};

// Keeps the configured keyrings and the consumer keyrings linked as they
// appear: at (re)load (set), then, for the ones still missing -- a
// consumer keyring is made when its module loads, an administrator's
// whenever -- at each retry(). The kernel tells no daemon when a keyring
// is created (key notifications need CONFIG_KEY_NOTIFICATIONS and a watch
// on a keyring that already exists), so the agent retries on a timer.
//
// They are linked into a keyring of the agent's own, "tlsupd:linked" in the
// process keyring, never into the process keyring itself: there, each
// ACCEPT's link of the request's keyring must stand out (AcceptKeyrings),
// also when that keyring is one of these.
class KeyringLinker {
public:
	explicit KeyringLinker(std::vector<std::string> consumer = {std::begin(kConsumerKeyrings),
	                                                            std::end(kConsumerKeyrings)})
	    : consumer_(std::move(consumer)) {}

	// Gets the new snapshot before the lines that describe it are logged.
	using Publish = std::function<void(const LinkedKeyrings &)>;

	// (Re)load: link what exists now, unlink what is no longer named; a
	// configured keyring that does not exist is a warning (as tlshd),
	// linked when it appears. The first call makes the holder in the
	// process keyring: before the agent's threads start. WHERE names the
	// configuration's keys in messages.
	// Only keyrings check_keyring_trust() accepts under TRUST are linked or
	// used -- here and at every retry(), with a warning, once per keyring,
	// for each one refused. PUBLISH, if given, gets the new snapshot
	// before any of those lines is logged, as at retry().
	// EIO and the like when the holder cannot be made or an existing
	// keyring cannot be linked: then nothing is published or logged, the
	// keyrings this call linked that the linker did not hold before are
	// unlinked again, and the linker keeps the configuration, trust and
	// keyrings it had -- the ones the snapshot still published was made
	// of, which retry() goes on checking.
	Result<LinkedKeyrings> set(const std::vector<std::string> &configured,
	                           const std::vector<std::string> &psk, const std::string &where,
	                           const Log &log, const KeyringTrust &trust = {},
	                           const Publish &publish = {});
	// The retry timer's tick: checks every linked or resolved keyring
	// again (one keyctl(DESCRIBE) each) -- one whose owner or mode no
	// longer passes check_keyring_trust() is unlinked from the holder,
	// leaves the snapshot and is missing again, with a warning -- then
	// links the missing ones that exist now. True when the snapshot
	// changed. PUBLISH, if given, gets the new snapshot before the
	// warnings and notices that describe it are logged: once a line says
	// a keyring is no longer searched (or is now), no request that
	// starts after it sees the old snapshot (AcceptKeyrings lets a
	// parked keyring the snapshot no longer holds go at the next ACCEPT).
	bool retry(const Log &log, const Publish &publish = {});
	bool missing() const { return !missing_.empty() || !missing_psk_.empty(); }
	// Whether retry() has anything to do: a keyring missing, or one held
	// whose trust must be checked again. The timer runs while this holds.
	bool watching() const {
		return missing() || !linked_.keyrings.empty() || !linked_.consumer.empty() ||
		       !linked_.psk_keyrings.empty();
	}
	const LinkedKeyrings &linked() const { return linked_; }
	// "tlsupd:linked", 0 before the first set().
	key_serial_t holder() const { return holder_; }

private:
	// Lines to log once the change they describe is published.
	using Said = std::vector<std::function<void()>>;

	// resolve_keyring() under trust_; the refused keyrings not warned
	// about yet go to SAID.
	Result<key_serial_t> resolve(const std::string &name, const Log &log, Said &said);
	// Links ID into the holder and checks it again once linked (a keyring
	// that changed owner or mode meanwhile is unlinked).
	Result<void> link_checked(key_serial_t id, const std::string &name);
	bool is_consumer(const std::string &name) const;
	// Part of retry(): the held keyrings that fail the trust check now;
	// what it has to say goes to SAID, logged once the change is published.
	bool recheck(const Log &log, Said &said);
	// Remembers ID in LIST (said once); false: it was already there.
	static bool remember(std::vector<key_serial_t> &list, key_serial_t id);
	bool remember_refused(key_serial_t id) { return remember(refused_, id); }

	std::vector<std::string> consumer_;
	std::vector<std::string> configured_;
	std::vector<std::string> missing_, missing_psk_; // names, in order
	LinkedKeyrings linked_;
	// The configured name of each keyring in linked_ (for missing_ when it
	// is refused later).
	std::vector<std::pair<key_serial_t, std::string>> names_;
	KeyringTrust trust_;
	key_serial_t holder_ = 0;
	// Warned about already, each once: keyrings the trust check refused,
	// and keyrings that were trusted but could not be linked. Apart, so
	// that one refused, then trusted, whose link then fails is said again;
	// a keyring that passes the check leaves refused_, one linked leaves
	// unlinked_ (the next failure of either is said).
	std::vector<key_serial_t> refused_;
	std::vector<key_serial_t> unlinked_;
	static constexpr size_t kMaxRemembered = 1024;
};

} // namespace tlsup
