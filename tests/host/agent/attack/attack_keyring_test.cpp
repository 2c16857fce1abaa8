// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: keyrings by name. tlsupd finds a configured keyring by
// its name among every keyring root can see (/proc/keys), and any local
// user can make a keyring with any name that does not start with '.'. A
// keyring tlsupd links is searched for server PSKs: whoever owns it is a PSK
// authority for every server-PSK consumer on the host. So a keyring is
// linked only when root (or an owner the administrator named) owns it and
// no one else may write to it, link it (and so possess it), or change its
// permissions -- at start-up, at reload and when the retry timer finds it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <keyutils.h>
#include <thread>

#include <uapi/linux/handshake.h>

#include "agent.hpp"
#include "fake_channel.hpp"
#include "keyring.hpp"
#include "keyring_linker.hpp"
#include "local_user.hpp"
#include "psk_lookup.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

// What an attacker grants so that root's agent can link its keyring:
// others may find it, read it, search it and link it; possessors (root's
// agent, once it linked it) no more than that, so that the mode itself is
// above reproach and only the owner gives it away. The owner (the
// attacker) may do everything.
constexpr key_perm_t kOpenKeyring = 0x1b3f001b;
constexpr key_perm_t kOpenKey =
        KEY_POS_ALL | KEY_USR_ALL | KEY_OTH_VIEW | KEY_OTH_READ | KEY_OTH_SEARCH;

// In the child: a keyring NAME in its session keyring with PERM, holding a
// "user" key IDENTITY with KEY as its payload. Values: ring, key.
LocalUser::Act keyring_with_psk(std::string name, std::string identity, std::vector<uint8_t> key,
                                key_perm_t perm = kOpenKeyring) {
	return [=]() -> LocalUser::Outcome {
		key_serial_t ring =
		        add_key("keyring", name.c_str(), nullptr, 0, KEY_SPEC_SESSION_KEYRING);
		if (ring < 0)
			return {{}, errno, "add_key(keyring)"};
		if (keyctl_setperm(ring, perm) < 0)
			return {{}, errno, "setperm(keyring)"};
		key_serial_t k = add_key("user", identity.c_str(), key.data(), key.size(), ring);
		if (k < 0)
			return {{}, errno, "add_key(user)"};
		if (keyctl_setperm(k, kOpenKey) < 0)
			return {{}, errno, "setperm(key)"};
		return {{ring, k}};
	};
}

bool contains(const std::vector<key_serial_t> &v, int64_t id) {
	return std::find(v.begin(), v.end(), static_cast<key_serial_t>(id)) != v.end();
}

bool in_process_keyring(int64_t id) {
	auto c = keyring_contents(KEY_SPEC_PROCESS_KEYRING);
	return c && contains(*c, id);
}

class AttackKeyring : public ::testing::Test {
protected:
	void SetUp() override {
		std::string why;
		if (!LocalUser::available(&why))
			GTEST_SKIP() << why;
		ASSERT_TRUE(ensure_process_keyring().ok());
		static int n = 0;
		name_ = "tlsup-attack-" + std::to_string(getpid()) + "-" + std::to_string(++n);
	}

	// What a server-PSK request finds for IDENTITY in what the linker linked.
	Result<Psk> server_psk(const LinkedKeyrings &linked, const std::string &identity) {
		PskScope scope;
		scope.keyrings = linked.keyrings;
		scope.psk_keyrings = linked.psk_keyrings;
		return find_server_psk(scope, identity);
	}

	std::string name_;
	std::vector<uint8_t> key_ = random_bytes(32);
	CaptureLog log_;
};

TEST_F(AttackKeyring, AnotherUsersKeyringWithAConfiguredNameIsNeverLinked) {
	LocalUser attacker(LocalUser::kAttacker, keyring_with_psk(name_, "attacker-id", key_));
	ASSERT_TRUE(attacker.ok()) << attacker.why();
	// The same keyring as a careless attacker makes it (everything for a
	// possessor), refused on its mode as well.
	LocalUser careless(LocalUser::kAttacker,
	                   keyring_with_psk(name_, "attacker-id", key_,
	                                    KEY_POS_ALL | KEY_USR_ALL | KEY_OTH_VIEW |
	                                            KEY_OTH_READ | KEY_OTH_SEARCH | KEY_OTH_LINK));
	ASSERT_TRUE(careless.ok()) << careless.why();
	KeyringLinker linker(std::vector<std::string>{});
	auto linked = linker.set({name_}, {name_}, "test.conf: [authenticate] ", log_.log());
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	EXPECT_TRUE(linked->keyrings.empty());
	EXPECT_TRUE(linked->psk_keyrings.empty());
	EXPECT_FALSE(in_process_keyring(attacker.value(0)));
	EXPECT_FALSE(in_process_keyring(careless.value(0)));
	auto psk = server_psk(*linked, "attacker-id");
	EXPECT_FALSE(psk.ok()) << "the attacker's PSK authenticates: key " << psk->serial;
	// Refused with the reason, once, and again never linked when the retry
	// timer looks.
	EXPECT_TRUE(log_.contains("owned by uid 61234")) << ::testing::PrintToString(log_.lines());
	EXPECT_FALSE(linker.retry(log_.log()));
	EXPECT_FALSE(linker.retry(log_.log()));
	EXPECT_FALSE(contains(linker.linked().keyrings, attacker.value(0)));
	EXPECT_FALSE(in_process_keyring(attacker.value(0)));
	std::string refused = "(" + std::to_string(attacker.value(0)) + ") refused";
	auto lines = log_.lines();
	EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
	                        [&](const std::string &l) {
		                        return l.find(refused) != std::string::npos;
	                        }),
	          1)
	        << ::testing::PrintToString(lines);
}

TEST_F(AttackKeyring, AnOwnerTheAdministratorNamesIsTrusted) {
	// [authenticate] keyring_owners: a provisioning account's keyring, in
	// the mode tlsupd.conf(5) gives for it.
	LocalUser owner(LocalUser::kAttacker,
	                keyring_with_psk(name_, "provisioned", key_, 0x1b3f001b));
	ASSERT_TRUE(owner.ok()) << owner.why();
	KeyringLinker untrusting(std::vector<std::string>{});
	auto refused = untrusting.set({name_}, {name_}, "test.conf: [authenticate] ", log_.log());
	ASSERT_TRUE(refused.ok()) << refused.error().reason;
	EXPECT_TRUE(refused->keyrings.empty());
	KeyringLinker linker(std::vector<std::string>{});
	auto linked = linker.set({name_}, {name_}, "test.conf: [authenticate] ", log_.log(),
	                         KeyringTrust{{LocalUser::kAttacker}});
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	EXPECT_TRUE(contains(linked->keyrings, owner.value(0)));
	auto psk = server_psk(*linked, "provisioned");
	ASSERT_TRUE(psk.ok()) << psk.error().reason;
	EXPECT_EQ(psk->serial, owner.value(1));
	keyctl_unlink(static_cast<key_serial_t>(owner.value(0)), KEY_SPEC_PROCESS_KEYRING);
}

TEST_F(AttackKeyring, TheAdministratorsKeyringWinsWhateverTheSerials) {
	// The administrator's keyring (another root process's, not one this
	// process possesses) and the attacker's copy with a lower serial:
	// serials are random, so both are made again until the attacker's is
	// lower (an even chance each time). The administrator's mode is
	// tlsupd.conf(5)'s recipe.
	std::unique_ptr<LocalUser> admin, attacker;
	for (int i = 0; i < 64; i++) {
		// The kernel collects a keyring its owner let go of later: a
		// discarded one stays visible meanwhile unless invalidated.
		for (auto *u : {&attacker, &admin})
			if (*u && (*u)->ok())
				keyctl_invalidate(static_cast<key_serial_t>((*u)->value(0)));
		attacker.reset();
		admin.reset();
		attacker = std::make_unique<LocalUser>(
		        LocalUser::kAttacker, keyring_with_psk(name_, "attacker-id", key_));
		admin = std::make_unique<LocalUser>(
		        0, keyring_with_psk(name_, "admin-id", key_, 0x3f3f0000));
		ASSERT_TRUE(attacker->ok()) << attacker->why();
		ASSERT_TRUE(admin->ok()) << admin->why();
		if (attacker->value(0) < admin->value(0))
			break;
	}
	ASSERT_LT(attacker->value(0), admin->value(0)) << "no lower serial in 64 tries";
	KeyringLinker linker(std::vector<std::string>{});
	auto linked = linker.set({name_}, {name_}, "test.conf: [authenticate] ", log_.log());
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	EXPECT_TRUE(contains(linked->keyrings, admin->value(0)));
	EXPECT_FALSE(contains(linked->keyrings, attacker->value(0)));
	EXPECT_FALSE(server_psk(*linked, "attacker-id").ok());
	auto psk = server_psk(*linked, "admin-id");
	ASSERT_TRUE(psk.ok()) << psk.error().reason;
	EXPECT_EQ(psk->serial, admin->value(1));
	keyctl_unlink(static_cast<key_serial_t>(admin->value(0)), KEY_SPEC_PROCESS_KEYRING);
}

TEST_F(AttackKeyring, AKeyringNamedBySerialIsCheckedToo) {
	// Serials are random, and a configured one may name a key that went
	// away: whoever makes a key with that serial next must not be trusted.
	LocalUser attacker(LocalUser::kAttacker, keyring_with_psk(name_, "attacker-id", key_));
	ASSERT_TRUE(attacker.ok()) << attacker.why();
	std::string serial = std::to_string(attacker.value(0));
	KeyringLinker linker(std::vector<std::string>{});
	auto linked = linker.set({serial}, {serial}, "test.conf: [authenticate] ", log_.log());
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	EXPECT_FALSE(contains(linked->keyrings, attacker.value(0)));
	EXPECT_FALSE(in_process_keyring(attacker.value(0)));
	EXPECT_FALSE(server_psk(*linked, "attacker-id").ok());
}

TEST_F(AttackKeyring, ARootKeyringOthersMayChangeIsRefused) {
	// Root's own keyring, but others may add keys to it (write), link it
	// into their own keyrings and so possess it (link), or change its
	// permissions (setattr): each makes its writer a PSK authority.
	struct Case {
		const char *what;
		key_perm_t perm;
		bool trusted;
	};
	const key_perm_t base = KEY_POS_ALL | KEY_USR_ALL;
	const Case cases[] = {
	        {"others may write", base | KEY_OTH_VIEW | KEY_OTH_WRITE, false},
	        {"others may link", base | KEY_OTH_VIEW | KEY_OTH_LINK, false},
	        {"others may set attributes", base | KEY_OTH_VIEW | KEY_OTH_SETATTR, false},
	        {"its group may write", base | KEY_GRP_VIEW | KEY_GRP_WRITE, false},
	        {"its group may link", base | KEY_GRP_VIEW | KEY_GRP_LINK, false},
	        {"its group may set attributes", base | KEY_GRP_VIEW | KEY_GRP_SETATTR, false},
	        {"others may link, a possessor may set attributes",
	         KEY_POS_VIEW | KEY_POS_SEARCH | KEY_POS_SETATTR | KEY_USR_ALL | KEY_OTH_LINK,
	         false},
	        {"others may view, read and search",
	         base | KEY_OTH_VIEW | KEY_OTH_READ | KEY_GRP_SEARCH | KEY_OTH_SEARCH, true},
	        {"others may link, a possessor only read", 0x1b3f001b, true},
	};
	for (const Case &c : cases) {
		std::string name = name_ + "-" + std::to_string(c.perm);
		key_serial_t ring = add_keyring(name, KEY_SPEC_SESSION_KEYRING);
		ASSERT_EQ(keyctl_setperm(ring, c.perm), 0);
		KeyringLinker linker(std::vector<std::string>{});
		auto linked = linker.set({name}, {}, "test.conf: [authenticate] ", log_.log());
		ASSERT_TRUE(linked.ok()) << linked.error().reason;
		EXPECT_EQ(contains(linked->keyrings, ring), c.trusted) << c.what;
		keyctl_unlink(ring, KEY_SPEC_PROCESS_KEYRING);
		keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING);
	}
}

TEST_F(AttackKeyring, OthersWhoMaySearchAKeyringMayInvalidateIt) {
	// A known risk (Documentation/agent.rst): keyctl_invalidate needs only
	// search permission, so a keyring that grants others search can be made
	// to vanish by them -- a denial of service, not a bypass, which the
	// trust check does not refuse. tlsupd.conf(5)'s recipe grants others
	// nothing, and then they cannot.
	for (key_perm_t perm : {key_perm_t{0x3f3f0008}, key_perm_t{0x3f3f0000}}) {
		key_serial_t ring =
		        add_keyring(name_ + "-" + std::to_string(perm), KEY_SPEC_SESSION_KEYRING);
		ASSERT_EQ(keyctl_setperm(ring, perm), 0);
		EXPECT_TRUE(check_keyring_trust(ring, {}).ok());
		LocalUser attacker(LocalUser::kAttacker, [ring]() -> LocalUser::Outcome {
			return {{keyctl_invalidate(ring) < 0 ? errno : 0}};
		});
		ASSERT_TRUE(attacker.ok()) << attacker.why();
		EXPECT_EQ(attacker.value(0), perm & KEY_OTH_SEARCH ? 0 : EACCES)
		        << std::hex << perm;
	}
}

TEST_F(AttackKeyring, AUserCannotMakeAConsumerKeyring) {
	// The names tlsupd always links (.nvme, .nfs, .nfsd) start with '.':
	// the kernel keeps those for itself. Were that to change, the owner
	// check above would still refuse the user's copy.
	LocalUser attacker(LocalUser::kAttacker, []() -> LocalUser::Outcome {
		int64_t add = add_key("keyring", ".nvme", nullptr, 0, KEY_SPEC_SESSION_KEYRING) < 0
		                      ? errno
		                      : 0;
		int64_t join = keyctl_join_session_keyring(".nfs") < 0 ? errno : 0;
		return {{add, join}};
	});
	ASSERT_TRUE(attacker.ok()) << attacker.why();
	EXPECT_EQ(attacker.value(0), EPERM);
	EXPECT_EQ(attacker.value(1), EPERM);
}

// The whole agent: a configured keyring that is missing at start-up, made
// later by another user with the configured name. The retry timer finds
// it; a peer holding the attacker's key must not authenticate.
TEST_F(AttackKeyring, TheRetryTimerDoesNotLinkAnotherUsersKeyring) {
	char d[] = "/tmp/tlsupd-attack.XXXXXX";
	ASSERT_TRUE(mkdtemp(d));
	std::string dir = d, conf = dir + "/tlsupd.conf";
	std::ofstream(conf) << "[agent]\nworkers = 1\ncontrol_socket = " << dir
	                    << "/control\n[authenticate]\nkeyrings = " << name_
	                    << "\npsk_keyrings = " << name_ << "\n";
	FakeKernel kernel;
	std::vector<FakeChannel *> channels;
	AgentOptions o;
	o.config_path = conf;
	o.consumer_keyrings = {};
	o.keyring_retry = 20ms;
	FakeChannel *acceptor = nullptr; // READY goes to the acceptor's channel
	o.open_channel = [&](bool notifications) -> Result<std::unique_ptr<HandshakeChannel>> {
		auto ch = std::make_unique<FakeChannel>(kernel);
		channels.push_back(ch.get());
		if (notifications)
			acceptor = ch.get();
		return std::unique_ptr<HandshakeChannel>(std::move(ch));
	};
	auto agent = Agent::create(o, log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	ASSERT_TRUE(kernel.wait_eagains(1));

	LocalUser attacker(LocalUser::kAttacker, keyring_with_psk(name_, "attacker-id", key_));
	ASSERT_TRUE(attacker.ok()) << attacker.why();
	// The timer runs every 20 ms: wait for its verdict on this keyring.
	std::string serial = std::to_string(attacker.value(0));
	for (int i = 0; i < 250 && !log_.contains("(" + serial + ")"); i++)
		std::this_thread::sleep_for(20ms);

	// EIO would mean the handshake succeeded (this host has no kTLS).
	EXPECT_EQ(server_psk_status(kernel, *acceptor, "attacker-id", key_),
	          static_cast<uint32_t>(EKEYREJECTED));
	EXPECT_FALSE(in_process_keyring(attacker.value(0)));
	EXPECT_TRUE(log_.contains("owned by uid 61234")) << ::testing::PrintToString(log_.lines());
	agent.value()->stop();
	t.join();
	std::filesystem::remove_all(dir);
}

} // namespace
} // namespace tlsup::test
