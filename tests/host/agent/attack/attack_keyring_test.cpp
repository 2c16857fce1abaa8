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
#include <atomic>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <keyutils.h>
#include <mutex>
#include <thread>

#include <uapi/linux/handshake.h>

#include "agent.hpp"
#include "control.hpp"
#include "fake_channel.hpp"
#include "keyring.hpp"
#include "keyring_linker.hpp"
#include "local_user.hpp"
#include "peer_keys.hpp"
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

// The whole agent (one worker, a fake kernel, the keyring retry timer at
// 20 ms) on a configuration whose keyrings and psk_keyrings name NAME,
// running on a thread until destroyed; READY goes to acceptor().
// AUTHENTICATE: more lines for [authenticate].
class RunningAgent {
public:
	RunningAgent(const std::string &name, Log &log, bool tlsup_ko,
	             const std::string &authenticate = "") {
		char d[] = "/tmp/tlsupd-attack.XXXXXX";
		if (!mkdtemp(d))
			return;
		dir_ = d;
		std::string conf = dir_ + "/tlsupd.conf";
		std::ofstream(conf) << "[agent]\nworkers = 1\ncontrol_socket = " << dir_
		                    << "/control\n[authenticate]\nkeyrings = " << name
		                    << "\npsk_keyrings = " << name << "\n"
		                    << authenticate << "\n";
		AgentOptions o;
		o.config_path = conf;
		o.consumer_keyrings = {};
		o.keyring_retry = 20ms;
		o.kernel_is_tlsup_ko = tlsup_ko;
		o.open_channel =
		        [this](bool notifications) -> Result<std::unique_ptr<HandshakeChannel>> {
			auto ch = std::make_unique<FakeChannel>(kernel);
			if (notifications)
				acceptor_ = ch.get();
			return std::unique_ptr<HandshakeChannel>(std::move(ch));
		};
		auto agent = Agent::create(o, log);
		if (!agent) {
			why_ = agent.error().reason;
			return;
		}
		agent_ = std::move(agent).value();
		thread_ = std::thread([this] { EXPECT_TRUE(agent_->run().ok()); });
	}
	~RunningAgent() {
		if (agent_) {
			agent_->stop();
			thread_.join();
		}
		if (!dir_.empty())
			std::filesystem::remove_all(dir_);
	}
	bool ok() const { return agent_ != nullptr; }
	const std::string &why() const { return why_; }
	FakeChannel &acceptor() { return *acceptor_; }
	const std::string &dir() const { return dir_; }

	FakeKernel kernel;

private:
	std::string dir_, why_;
	FakeChannel *acceptor_ = nullptr;
	std::unique_ptr<Agent> agent_;
	std::thread thread_;
};

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
	RunningAgent a(name_, log_.log(), false);
	ASSERT_TRUE(a.ok()) << a.why();
	ASSERT_TRUE(a.kernel.wait_eagains(1));

	LocalUser attacker(LocalUser::kAttacker, keyring_with_psk(name_, "attacker-id", key_));
	ASSERT_TRUE(attacker.ok()) << attacker.why();
	// The timer runs every 20 ms: wait for its verdict on this keyring.
	std::string serial = std::to_string(attacker.value(0));
	for (int i = 0; i < 250 && !log_.contains("(" + serial + ")"); i++)
		std::this_thread::sleep_for(20ms);

	// EIO would mean the handshake succeeded (this host has no kTLS).
	EXPECT_EQ(server_psk_status(a.kernel, a.acceptor(), "attacker-id", key_),
	          static_cast<uint32_t>(EKEYREJECTED));
	EXPECT_FALSE(in_process_keyring(attacker.value(0)));
	EXPECT_TRUE(log_.contains("owned by uid 61234")) << ::testing::PrintToString(log_.lines());
}

// The whole agent: a configured keyring that passed the trust check
// (root's, others may do nothing) is linked and searched for every server
// PSK request. Its mode is then changed so that others may write it -- a
// mode check_keyring_trust refuses -- and another user adds its own PSK.
// "A keyring is trusted -- linked, resolved or searched -- only when ...
// no one else may change it" (Documentation/agent.rst, Keyrings): the
// attacker's PSK must not authenticate: the retry tick checks held
// keyrings again (before 7bf90ef only start-up, reload and missing ones
// were, and the held keyring -- parked in the process keyring on tlsup.ko
// -- was searched as it then was).
TEST_F(AttackKeyring, AConfiguredKeyringOthersMayWriteLaterIsNoLongerSearched) {
	key_serial_t ring = add_keyring(name_, KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0000), 0);
	std::vector<uint8_t> admin_key = random_bytes(32);
	add_user_key("admin-id", admin_key, ring);
	ASSERT_TRUE(check_keyring_trust(ring, {}).ok());
	RunningAgent a(name_, log_.log(), true);
	ASSERT_TRUE(a.ok()) << a.why();
	ASSERT_TRUE(a.kernel.wait_eagains(1));

	// Trusted: the administrator's PSK works (EIO: no kTLS here), and the
	// request naming the keyring parks it (tlsup.ko).
	EXPECT_EQ(server_psk_status(a.kernel, a.acceptor(), "admin-id", admin_key, ring, true),
	          static_cast<uint32_t>(EIO))
	        << ::testing::PrintToString(log_.lines());

	// Now others may write it: refused by the check, from here on.
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0004), 0);
	EXPECT_FALSE(check_keyring_trust(ring, {}).ok());
	LocalUser attacker(LocalUser::kAttacker, [ring, this]() -> LocalUser::Outcome {
		key_serial_t k = add_key("user", "attacker-id", key_.data(), key_.size(), ring);
		// Its default mode: possessors (root's agent, through the
		// keyring) may read it.
		if (k < 0)
			return {{}, errno, "add_key(user) into root's keyring"};
		return {{k}};
	});
	ASSERT_TRUE(attacker.ok()) << attacker.why();
	// The retry timer (20 ms here, 5 s by default) checks held keyrings
	// again: wait for its verdict, then ask.
	for (int i = 0; i < 250 && !log_.contains("is no longer trusted"); i++)
		std::this_thread::sleep_for(20ms);
	EXPECT_TRUE(log_.contains("keyring '" + name_ + "' (" + std::to_string(ring) +
	                          ") is no longer trusted: "))
	        << ::testing::PrintToString(log_.lines());

	// A request that names no keyring: the configured keyrings only.
	uint32_t plain = server_psk_status(a.kernel, a.acceptor(), "attacker-id", key_);
	EXPECT_EQ(plain, static_cast<uint32_t>(EKEYREJECTED))
	        << "EIO = the attacker's PSK authenticated\n"
	        << ::testing::PrintToString(log_.lines());
	// Nor does it stay parked in the process keyring (this ACCEPT's window
	// would take it out once the agent let go of it).
	EXPECT_FALSE(in_process_keyring(ring));
	keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING);
}

// A reload that fails after [authenticate] keyrings were linked (here: a
// trust store with no CA, which load_credentials() refuses) keeps the old
// configuration: "reload failed, keeping the old configuration". But
// KeyringLinker::set() had already replaced what the linker holds and
// checks (linked_, names_, missing_) with the new file's keyrings, while
// the published snapshot (keyrings_) still searches the old ones. The
// retry tick then checks only the new file's keyrings again: an old one
// whose mode later lets others write it is never "no longer trusted" and
// stays searched for every server PSK request.
TEST_F(AttackKeyring, AFailedReloadDoesNotStopTheTickCheckingTheKeyringsStillSearched) {
	key_serial_t ring = add_keyring(name_, KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0000), 0);
	std::vector<uint8_t> admin_key = random_bytes(32);
	add_user_key("admin-id", admin_key, ring);
	RunningAgent a(name_, log_.log(), false);
	ASSERT_TRUE(a.ok()) << a.why();
	ASSERT_TRUE(a.kernel.wait_eagains(1));
	EXPECT_EQ(server_psk_status(a.kernel, a.acceptor(), "admin-id", admin_key),
	          static_cast<uint32_t>(EIO));

	// The administrator edits the file: another keyring, and a trust
	// store that is still empty. The reload fails.
	std::string other = name_ + "-new";
	std::ofstream(a.dir() + "/empty.pem").flush();
	std::ofstream(a.dir() + "/tlsupd.conf")
	        << "[agent]\nworkers = 1\ncontrol_socket = " << a.dir()
	        << "/control\n[authenticate]\nkeyrings = " << other << "\npsk_keyrings = " << other
	        << "\n[authenticate.server]\nx509.truststore = " << a.dir() << "/empty.pem\n";
	auto r = control_request(a.dir() + "/control", "reload");
	ASSERT_TRUE(r.ok()) << r.error().reason;
	ASSERT_EQ(r->rfind("error ", 0), 0u) << *r;
	// The old configuration stays: its keyring is still searched.
	EXPECT_EQ(server_psk_status(a.kernel, a.acceptor(), "admin-id", admin_key),
	          static_cast<uint32_t>(EIO))
	        << ::testing::PrintToString(log_.lines());

	// Now others may write it, and another user adds its PSK.
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0004), 0);
	ASSERT_FALSE(check_keyring_trust(ring, {}).ok());
	LocalUser attacker(LocalUser::kAttacker, [ring, this]() -> LocalUser::Outcome {
		// Made in its own keyring and opened to all (no possession of
		// root's keyring needed to read it), then linked into root's.
		key_serial_t k = add_key("user", "attacker-id", key_.data(), key_.size(),
		                         KEY_SPEC_SESSION_KEYRING);
		if (k < 0)
			return {{}, errno, "add_key(user)"};
		if (keyctl_setperm(k, kOpenKey) < 0)
			return {{}, errno, "setperm(key)"};
		if (keyctl_link(k, ring) < 0)
			return {{}, errno, "link into root's keyring"};
		return {{k}};
	});
	ASSERT_TRUE(attacker.ok()) << attacker.why();
	// The tick runs every 20 ms: 25 of them, or its verdict.
	for (int i = 0; i < 25 && !log_.contains("is no longer trusted"); i++)
		std::this_thread::sleep_for(20ms);
	EXPECT_EQ(server_psk_status(a.kernel, a.acceptor(), "attacker-id", key_),
	          static_cast<uint32_t>(EKEYREJECTED))
	        << "EIO = the attacker's PSK authenticated\n"
	        << ::testing::PrintToString(log_.lines());
	keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING);
}

// The same, without the agent or a timer: the linker's tick (retry())
// unlinks a held keyring whose mode changed from tlsupd:linked, drops it
// from the snapshot and the PSK keyrings, and links it again once its mode
// is fixed.
TEST_F(AttackKeyring, TheRetryTickUnlinksAHeldKeyringThatIsNoLongerTrusted) {
	key_serial_t ring = add_keyring(name_, KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0000), 0);
	KeyringLinker linker(std::vector<std::string>{});
	auto linked = linker.set({name_}, {name_}, "", log_.log());
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	ASSERT_TRUE(contains(linked->keyrings, ring));
	ASSERT_TRUE(contains(linked->psk_keyrings, ring));
	EXPECT_TRUE(linker.watching());         // nothing missing, but held: the timer runs
	EXPECT_FALSE(linker.retry(log_.log())); // unchanged: nothing to publish

	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0004), 0); // others may write
	EXPECT_TRUE(linker.retry(log_.log()));
	EXPECT_FALSE(contains(linker.linked().keyrings, ring));
	EXPECT_FALSE(contains(linker.linked().psk_keyrings, ring));
	auto held = keyring_contents(linker.holder());
	ASSERT_TRUE(held.has_value());
	EXPECT_FALSE(contains(*held, ring));
	EXPECT_TRUE(linker.missing());
	auto warned = [&] {
		auto l = log_.lines();
		return std::count_if(l.begin(), l.end(), [](const std::string &line) {
			return line.find("is no longer trusted") != std::string::npos;
		});
	};
	EXPECT_EQ(warned(), 1) << ::testing::PrintToString(log_.lines());
	EXPECT_FALSE(linker.retry(log_.log())); // still refused: no change, no new warning
	EXPECT_EQ(warned(), 1);

	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0000), 0); // fixed
	EXPECT_TRUE(linker.retry(log_.log()));
	EXPECT_TRUE(contains(linker.linked().keyrings, ring));
	EXPECT_TRUE(contains(linker.linked().psk_keyrings, ring));
	EXPECT_FALSE(linker.missing());
	keyctl_unlink(linker.holder(), KEY_SPEC_PROCESS_KEYRING);
	keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING);
}

// A log sink that keeps every line and, once armed, runs a probe once, on
// the logging thread, at the first line MATCH accepts: the answer is what a
// request that starts right after that line gets. arm_at(WHAT) arms it at
// the first line containing WHAT (that line too may be probed).
class ProbeAtLine {
public:
	ProbeAtLine(std::function<bool(std::string_view)> match, std::function<uint32_t()> probe)
	    : match_(std::move(match)), probe_(std::move(probe)) {
		log.set_level(kLogDebug);
	}
	void arm() { armed_ = true; }
	void arm_at(std::string what) { arm_at_ = std::move(what); }
	bool probed() const { return probed_; }
	// Up to 5 s for a probe to start and answer; 0 when none did.
	uint32_t answer() const {
		for (int i = 0; i < 250 && (!probed_ || answer_ == 0); i++)
			std::this_thread::sleep_for(20ms);
		return answer_;
	}
	std::string probe_line() const {
		std::lock_guard lock(mu_);
		return probe_line_;
	}
	bool said(const std::string &what) const {
		std::lock_guard lock(mu_);
		return std::any_of(lines_.begin(), lines_.end(), [&](const std::string &l) {
			return l.find(what) != std::string::npos;
		});
	}
	std::string all() const {
		std::lock_guard lock(mu_);
		return ::testing::PrintToString(lines_);
	}

	Log log{Log::LineSink([this](int, std::string_view line) { on_line(line); })};

private:
	void on_line(std::string_view line) {
		{
			std::lock_guard lock(mu_);
			lines_.emplace_back(line);
		}
		if (!arm_at_.empty() && line.find(arm_at_) != std::string_view::npos)
			armed_ = true;
		if (!armed_ || !match_(line) || probed_.exchange(true))
			return;
		{
			std::lock_guard lock(mu_);
			probe_line_ = line;
		}
		answer_ = probe_();
	}

	std::function<bool(std::string_view)> match_;
	std::function<uint32_t()> probe_;
	std::string arm_at_;
	std::atomic<bool> armed_{false}, probed_{false};
	std::atomic<uint32_t> answer_{0};
	mutable std::mutex mu_;
	std::vector<std::string> lines_;
	std::string probe_line_;
};

// The publish-before-log tests' sink: at the first line that names keyring
// NAME (and contains ALSO), the PSK IDENTITY/KEY is tried through the agent
// AGENT points to by then.
ProbeAtLine psk_probe_at_line(const std::string &name, std::atomic<RunningAgent *> &agent,
                              std::string identity, std::vector<uint8_t> key,
                              std::string also = {}) {
	return ProbeAtLine(
	        [quoted = "'" + name + "'", also = std::move(also)](std::string_view line) {
		        return line.find(quoted) != std::string_view::npos &&
		               line.find(also) != std::string_view::npos;
	        },
	        [&agent, identity = std::move(identity), key = std::move(key)] {
		        return server_psk_status(agent.load()->kernel, agent.load()->acceptor(),
		                                 identity, key);
	        });
}

// A reload that takes trust away from a keyring: the provisioning
// account's, linked while [authenticate] keyring_owners named it, is
// refused once the file names no owner. The line that says so is the
// administrator's word that its keys are no longer searched; a request
// that starts after it must not find them. retry() published before its
// lines; set() logged "refused" and "not linked" while it ran, before
// Agent::apply published what it returned, and a request ACCEPTed then
// still searched the keyring it refused. The probe runs from the log
// sink, on the agent's thread, as the line is logged.
TEST_F(AttackKeyring, AReloadThatRefusesAKeyringPublishesBeforeItSaysSo) {
	LocalUser owner(LocalUser::kAttacker,
	                keyring_with_psk(name_, "provisioned", key_, 0x1b3f001b));
	ASSERT_TRUE(owner.ok()) << owner.why();
	std::atomic<RunningAgent *> agent{nullptr};
	ProbeAtLine sink = psk_probe_at_line(name_, agent, "provisioned", key_);
	sink.arm_at("reloading configuration");
	RunningAgent a(name_, sink.log, false,
	               "keyring_owners = " + std::to_string(LocalUser::kAttacker));
	ASSERT_TRUE(a.ok()) << a.why();
	agent = &a;
	ASSERT_TRUE(a.kernel.wait_eagains(1));
	// Trusted: its PSK works (EIO: no kTLS here).
	ASSERT_EQ(server_psk_status(a.kernel, a.acceptor(), "provisioned", key_),
	          static_cast<uint32_t>(EIO))
	        << sink.all();

	std::ofstream(a.dir() + "/tlsupd.conf")
	        << "[agent]\nworkers = 1\ncontrol_socket = " << a.dir()
	        << "/control\n[authenticate]\nkeyrings = " << name_ << "\npsk_keyrings = " << name_
	        << "\n";
	auto r = control_request(a.dir() + "/control", "reload");
	ASSERT_TRUE(r.ok()) << r.error().reason;
	ASSERT_TRUE(sink.probed()) << "no line named the keyring\n" << sink.all();
	EXPECT_EQ(sink.answer(), static_cast<uint32_t>(EKEYREJECTED))
	        << "EIO = a request that started after the line still searched the keyring\n"
	        << sink.all();
	EXPECT_EQ(server_psk_status(a.kernel, a.acceptor(), "provisioned", key_),
	          static_cast<uint32_t>(EKEYREJECTED));
}

// The tick's side of the same rule: retry() takes trust away from a held
// keyring (its mode now lets others write it) and says "no longer trusted
// ... no longer searched". A request that starts after that line must not
// find the keyring's PSK: the tick publishes the snapshot without it before
// it logs. The probe runs from the log sink, on the agent's thread, at the
// first line naming the keyring once its mode changed; were the line logged
// before the snapshot is published, the probe would still authenticate
// with the keyring's PSK (EIO). The timing-based
// AConfiguredKeyringOthersMayWriteLaterIsNoLongerSearched asks only after
// the line, at the next 20 ms, by when the snapshot was published either way.
TEST_F(AttackKeyring, TheTickThatDistrustsAKeyringPublishesBeforeItSaysSo) {
	key_serial_t ring = add_keyring(name_, KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0000), 0);
	std::vector<uint8_t> admin_key = random_bytes(32);
	add_user_key("admin-id", admin_key, ring);
	ASSERT_TRUE(check_keyring_trust(ring, {}).ok());
	std::atomic<RunningAgent *> agent{nullptr};
	ProbeAtLine sink = psk_probe_at_line(name_, agent, "admin-id", admin_key);
	RunningAgent a(name_, sink.log, false);
	ASSERT_TRUE(a.ok()) << a.why();
	agent = &a;
	ASSERT_TRUE(a.kernel.wait_eagains(1));
	// Trusted: its PSK works (EIO: no kTLS here).
	ASSERT_EQ(server_psk_status(a.kernel, a.acceptor(), "admin-id", admin_key),
	          static_cast<uint32_t>(EIO))
	        << sink.all();

	// Now others may write it; the tick (every 20 ms) sees it.
	sink.arm();
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0004), 0);
	uint32_t at_the_line = sink.answer();
	ASSERT_TRUE(sink.probed()) << "no line named the keyring\n" << sink.all();
	EXPECT_NE(sink.probe_line().find("is no longer trusted"), std::string::npos)
	        << sink.probe_line();
	EXPECT_EQ(at_the_line, static_cast<uint32_t>(EKEYREJECTED))
	        << "EIO = a request that started after the line still authenticated with the "
	           "distrusted keyring's PSK\n"
	        << sink.all();
	EXPECT_EQ(server_psk_status(a.kernel, a.acceptor(), "admin-id", admin_key),
	          static_cast<uint32_t>(EKEYREJECTED));
	keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING);
}

// And the other way: a configured keyring the tick does not hold (here:
// one it stopped trusting, whose mode is then fixed) is linked again by
// the tick, which says "appeared". A request that starts after that line
// finds the keyring's PSK: the tick published the snapshot with it before
// it logged. (A keyring that is made while the agent runs could be found
// by the tick between add_key() and the key being added to it, trusted in
// its default mode and empty: this one holds its PSK throughout.) The
// probe runs from the log sink at the first line naming the keyring that
// says it appeared; were it logged before the snapshot is published, the
// probe would not find the PSK (EKEYREJECTED).
TEST_F(AttackKeyring, TheTickThatLinksAKeyringThatAppearedPublishesBeforeItSaysSo) {
	key_serial_t ring = add_keyring(name_, KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0000), 0);
	std::vector<uint8_t> admin_key = random_bytes(32);
	add_user_key("admin-id", admin_key, ring);
	std::atomic<RunningAgent *> agent{nullptr};
	ProbeAtLine sink = psk_probe_at_line(name_, agent, "admin-id", admin_key, "appeared");
	RunningAgent a(name_, sink.log, false);
	ASSERT_TRUE(a.ok()) << a.why();
	agent = &a;
	ASSERT_TRUE(a.kernel.wait_eagains(1));
	ASSERT_EQ(server_psk_status(a.kernel, a.acceptor(), "admin-id", admin_key),
	          static_cast<uint32_t>(EIO))
	        << sink.all();

	// Others may write it: the tick lets go of it.
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0004), 0);
	for (int i = 0; i < 250 && !sink.said("is no longer trusted"); i++)
		std::this_thread::sleep_for(20ms);
	ASSERT_TRUE(sink.said("is no longer trusted")) << sink.all();
	ASSERT_EQ(server_psk_status(a.kernel, a.acceptor(), "admin-id", admin_key),
	          static_cast<uint32_t>(EKEYREJECTED))
	        << sink.all();

	// Fixed: the tick links it again and says it appeared.
	sink.arm();
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0000), 0);
	uint32_t at_the_line = sink.answer();
	ASSERT_TRUE(sink.probed()) << "no line said the keyring appeared\n" << sink.all();
	EXPECT_NE(sink.probe_line().find("(" + std::to_string(ring) + ") appeared"),
	          std::string::npos)
	        << sink.probe_line();
	EXPECT_EQ(at_the_line, static_cast<uint32_t>(EIO))
	        << "EKEYREJECTED = a request that started after 'appeared' did not find the "
	           "keyring's PSK\n"
	        << sink.all();
	EXPECT_EQ(server_psk_status(a.kernel, a.acceptor(), "admin-id", admin_key),
	          static_cast<uint32_t>(EIO));
	keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING);
}

// A reload whose keyrings cannot all be linked (here: one that holds
// tlsupd:linked, so linking it would make a cycle, EDEADLK) fails, and the
// old snapshot stays published. KeyringLinker::set() had linked the
// keyrings named before the failing one into tlsupd:linked, and left the
// linker with the new file's trust and names: the holder held a keyring
// no snapshot searches, and the tick resolved the old configuration's
// missing keyrings under the new keyring_owners -- a keyring the failed
// file's owner made was linked and published though the administrator was
// told the old configuration stays.
TEST_F(AttackKeyring, AFailedSetLeavesTheLinkerAsItWas) {
	key_serial_t old_ring = add_keyring(name_, KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(old_ring, 0x3f3f0000), 0);
	std::string later = name_ + "-later";
	KeyringLinker linker(std::vector<std::string>{});
	auto linked = linker.set({name_, later}, {}, "", log_.log());
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	ASSERT_EQ(linked->keyrings, std::vector<key_serial_t>{old_ring});
	ASSERT_TRUE(linker.missing());

	// The missing one appears, made by a user the old configuration does
	// not trust (the new one would).
	LocalUser other(LocalUser::kAttacker,
	                keyring_with_psk(later, "attacker-id", key_, 0x1b3f001b));
	ASSERT_TRUE(other.ok()) << other.why();
	key_serial_t fresh = add_keyring(name_ + "-fresh", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(fresh, 0x3f3f0000), 0);
	key_serial_t cycle = add_keyring(name_ + "-cycle", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(cycle, 0x3f3f0000), 0);
	ASSERT_EQ(keyctl_link(linker.holder(), cycle), 0);

	auto failed = linker.set({name_ + "-fresh", name_ + "-cycle", later}, {}, "", log_.log(),
	                         KeyringTrust{{LocalUser::kAttacker}});
	ASSERT_FALSE(failed.ok());
	EXPECT_EQ(failed.error().code, EDEADLK) << failed.error().reason;
	// The holder holds what the published snapshot searches, no more.
	EXPECT_EQ(keyring_contents(linker.holder()).value(), std::vector<key_serial_t>{old_ring});
	EXPECT_EQ(linker.linked().keyrings, std::vector<key_serial_t>{old_ring});
	// Nothing said of a configuration that was not taken.
	EXPECT_FALSE(log_.contains("(" + std::to_string(fresh) + ")"))
	        << ::testing::PrintToString(log_.lines());

	// The tick goes by the old configuration: the other user's keyring
	// is refused, the old keyring checked again.
	EXPECT_FALSE(linker.retry(log_.log()));
	EXPECT_FALSE(contains(linker.linked().keyrings, other.value(0)))
	        << "linked under the failed reload's keyring_owners";
	EXPECT_TRUE(log_.contains("owned by uid 61234")) << ::testing::PrintToString(log_.lines());
	ASSERT_EQ(keyctl_setperm(old_ring, 0x3f3f0004), 0); // others may write
	EXPECT_TRUE(linker.retry(log_.log()));
	EXPECT_TRUE(linker.linked().keyrings.empty());
	EXPECT_TRUE(keyring_contents(linker.holder()).value().empty());

	keyctl_unlink(linker.holder(), cycle);
	keyctl_unlink(linker.holder(), KEY_SPEC_PROCESS_KEYRING);
	for (key_serial_t k : {old_ring, fresh, cycle})
		keyctl_unlink(k, KEY_SPEC_SESSION_KEYRING);
}

// A failed set() puts back the configured names as well: they decide
// whether a consumer keyring the tick links later is searched for every
// request or for its consumer's only ("one consumer's PSK is not
// another's"). A reload that named the consumer's keyring -- searched for
// every request, had it been taken -- and failed must leave the tick
// linking that keyring, when it appears, as the old configuration says:
// for its consumer only. Were configured_ left as the failed file's, the
// tick would search it for every request though the administrator was
// told the old configuration stays.
TEST_F(AttackKeyring, AFailedSetPutsBackWhichKeyringsAreAConsumersOnly) {
	std::string consumer = name_ + "-consumer";
	key_serial_t old_ring = add_keyring(name_, KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(old_ring, 0x3f3f0000), 0);
	KeyringLinker linker(std::vector<std::string>{consumer});
	auto linked = linker.set({name_}, {}, "", log_.log());
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	ASSERT_TRUE(linker.missing()); // the consumer's, not made yet

	key_serial_t cycle = add_keyring(name_ + "-cycle", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(cycle, 0x3f3f0000), 0);
	ASSERT_EQ(keyctl_link(linker.holder(), cycle), 0);
	auto failed = linker.set({consumer, name_ + "-cycle"}, {}, "", log_.log());
	ASSERT_FALSE(failed.ok());
	EXPECT_EQ(failed.error().code, EDEADLK) << failed.error().reason;

	// The consumer's keyring appears (root's, as its module makes it).
	key_serial_t ring = add_keyring(consumer, KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0000), 0);
	EXPECT_TRUE(linker.retry(log_.log()));
	EXPECT_EQ(linker.linked().consumer, std::vector<key_serial_t>{ring});
	EXPECT_EQ(linker.linked().keyrings, std::vector<key_serial_t>{old_ring})
	        << "the consumer's keyring searched for every request, as only the failed "
	           "reload said";

	keyctl_unlink(linker.holder(), cycle);
	keyctl_unlink(linker.holder(), KEY_SPEC_PROCESS_KEYRING);
	for (key_serial_t k : {old_ring, cycle, ring})
		keyctl_unlink(k, KEY_SPEC_SESSION_KEYRING);
}

// A failed set() puts back the keyrings already warned about (refused_),
// too. The failed call refuses another user's keyring of a name the old
// configuration still waits for, and says nothing (nothing is logged of a
// configuration not taken); had it kept that refusal, the tick -- going
// by the old configuration -- would take the keyring as already warned
// about and never say it was refused: the administrator would never hear
// of it.
TEST_F(AttackKeyring, AFailedSetDoesNotSilenceTheTicksRefusal) {
	key_serial_t old_ring = add_keyring(name_, KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(old_ring, 0x3f3f0000), 0);
	std::string later = name_ + "-later";
	KeyringLinker linker(std::vector<std::string>{});
	auto linked = linker.set({name_, later}, {}, "", log_.log());
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	ASSERT_TRUE(linker.missing());

	LocalUser other(LocalUser::kAttacker,
	                keyring_with_psk(later, "attacker-id", key_, 0x1b3f001b));
	ASSERT_TRUE(other.ok()) << other.why();
	std::string serial = "(" + std::to_string(other.value(0)) + ")";
	key_serial_t cycle = add_keyring(name_ + "-cycle", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(cycle, 0x3f3f0000), 0);
	ASSERT_EQ(keyctl_link(linker.holder(), cycle), 0);
	auto failed = linker.set({later, name_ + "-cycle"}, {}, "", log_.log());
	ASSERT_FALSE(failed.ok());
	EXPECT_EQ(failed.error().code, EDEADLK) << failed.error().reason;
	EXPECT_FALSE(log_.contains(serial)) << ::testing::PrintToString(log_.lines());

	EXPECT_FALSE(linker.retry(log_.log()));
	EXPECT_FALSE(contains(linker.linked().keyrings, other.value(0)));
	EXPECT_TRUE(log_.contains(serial + " refused"))
	        << "the tick never said it refused the other user's keyring\n"
	        << ::testing::PrintToString(log_.lines());

	keyctl_unlink(linker.holder(), cycle);
	keyctl_unlink(linker.holder(), KEY_SPEC_PROCESS_KEYRING);
	for (key_serial_t k : {old_ring, cycle})
		keyctl_unlink(k, KEY_SPEC_SESSION_KEYRING);
}

// A verified peer's certificate is stored as a key whose serial is the
// REMOTE_AUTH the consumer gets; since 6723fe6 the key stored for a
// certificate is reused for a minute without asking the kernel, on the
// ground that "only this process may change or unlink keys in its
// keyring". store() granted the agent's uid search, and keyctl_invalidate
// needs no more: any other process running as root (the agent's uid; no
// capability needed) could make the key vanish, and for up to a minute every
// handshake with that peer reported a serial that names no key. The key
// now grants its user view and read only.
TEST_F(AttackKeyring, APeerKeyInvalidatedByAnotherRootProcessIsNotReportedDead) {
	auto keys = PeerCertificateKeys::create();
	ASSERT_TRUE(keys.ok()) << keys.error().reason;
	auto der = Pki::get().cert_der("client");
	time_t in_ten_days = time(nullptr) + 10 * 86400;
	key_serial_t first = keys->store(der, in_ten_days).value();
	LocalUser other_root(0, [first]() -> LocalUser::Outcome {
		char buf[256];
		int described = keyctl_describe(first, buf, sizeof(buf)) < 0 ? errno : 0;
		return {{keyctl_invalidate(first) < 0 ? errno : 0, described}};
	});
	ASSERT_TRUE(other_root.ok()) << other_root.why();
	// Refused: the stored key grants its user (root) view and read, not
	// search. What the e2e cases do (keyctl describe/print of the peer id
	// from a root shell) still works.
	EXPECT_EQ(other_root.value(0), EACCES) << "invalidate: " << strerror(other_root.value(0));
	EXPECT_EQ(other_root.value(1), 0) << "describe: " << strerror(other_root.value(1));
	// The same peer again, a second later: its REMOTE_AUTH.
	auto again = keys->store(der, in_ten_days);
	ASSERT_TRUE(again.ok()) << again.error().reason;
	EXPECT_TRUE(describe_key(again.value()).ok())
	        << "REMOTE_AUTH " << again.value() << " (first " << first
	        << ") names no key: " << describe_key(again.value()).error().reason;
	keyctl_unlink(keys->keyring(), KEY_SPEC_PROCESS_KEYRING);
}

} // namespace
} // namespace tlsup::test
