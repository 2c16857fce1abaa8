// SPDX-License-Identifier: GPL-2.0
//
// Keyrings by name or serial, their owner and mode checked, linked into
// tlsupd:linked.
#include <algorithm>
#include <gtest/gtest.h>
#include <unistd.h>
#include <vector>

#include "keyring_linker.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

TEST(Keyring, ResolvesKeyringsBySerialOrName) {
	key_serial_t ring = add_keyring("tlsupd-test-ring", KEY_SPEC_SESSION_KEYRING);
	EXPECT_EQ(resolve_keyring(std::to_string(ring)).value(), ring);
	EXPECT_EQ(resolve_keyring("tlsupd-test-ring").value(), ring);
	EXPECT_EQ(resolve_keyring("no-such-keyring-anywhere").error().code, ENOKEY);
	EXPECT_EQ(resolve_keyring("-5").error().code, EINVAL);
}

TEST(Keyring, LinksConfiguredKeyringsUnderTheProcessKeyring) {
	ASSERT_TRUE(ensure_process_keyring().ok());
	key_serial_t ring = add_keyring("tlsupd-configured", KEY_SPEC_SESSION_KEYRING);
	auto id = add_user_key("only-here", bytes("k"), ring);
	CaptureLog log;
	key_serial_t psk_ring = add_keyring("tlsupd-psks", KEY_SPEC_SESSION_KEYRING);
	KeyringLinker linker(std::vector<std::string>{});
	auto linked = linker.set({"tlsupd-configured", "tlsupd-missing-ring"}, {"tlsupd-psks"},
	                         "test.conf: [authenticate] ", log.log());
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	EXPECT_EQ(linked->keyrings, std::vector<key_serial_t>{ring});
	EXPECT_EQ(linked->psk_keyrings, std::vector<key_serial_t>{psk_ring});
	// Possessed through tlsupd:linked, not linked at the top of the process
	// keyring, where each ACCEPT's link must stand out.
	ASSERT_EQ(keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING), 0);
	EXPECT_EQ(keyctl_search(KEY_SPEC_PROCESS_KEYRING, "user", "only-here", 0), id);
	auto top = keyring_contents(KEY_SPEC_PROCESS_KEYRING).value();
	EXPECT_EQ(std::count(top.begin(), top.end(), ring), 0);
	EXPECT_EQ(keyring_contents(linker.holder()).value(), std::vector<key_serial_t>{ring});

	// A configured keyring that does not exist is a warning, and missing.
	EXPECT_TRUE(log.contains("keyring 'tlsupd-missing-ring' not linked"));
	EXPECT_TRUE(linker.missing());
	// A reload that names it no more lets go of it.
	ASSERT_TRUE(linker.set({}, {}, "test.conf: [authenticate] ", log.log()).ok());
	EXPECT_TRUE(keyring_contents(linker.holder()).value().empty());
}

// Agent::apply() replaces the credentials and the log level in set()'s
// publish callback: set() must call it exactly once whenever it succeeds
// -- nothing configured, nothing changed since the last call, everything
// missing -- before any line, and never when it fails.
TEST(Keyring, ASetThatSucceedsPublishesOnceBeforeItsLinesAndAFailedOneNever) {
	ASSERT_TRUE(ensure_process_keyring().ok());
	key_serial_t ring = add_keyring("tlsupd-publish-publish", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, 0x3f3f0000), 0);
	CaptureLog log;
	KeyringLinker linker(std::vector<std::string>{"tlsupd-publish-no-consumer"});
	int calls = 0;
	size_t lines_at_publish = 0;
	auto publish = [&](const LinkedKeyrings &) {
		calls++;
		lines_at_publish = log.lines().size();
	};
	auto set = [&](std::vector<std::string> configured) {
		calls = 0;
		size_t before = log.lines().size();
		auto r = linker.set(configured, {"tlsupd-publish-missing-psk"}, "", log.log(), {},
		                    publish);
		if (r.ok())
			EXPECT_EQ(lines_at_publish, before) << "a line went out before publish";
		return r.ok();
	};
	EXPECT_TRUE(set({}));
	EXPECT_EQ(calls, 1);
	EXPECT_TRUE(set({"tlsupd-publish-publish"}));
	EXPECT_EQ(calls, 1);
	EXPECT_TRUE(set({"tlsupd-publish-publish"})); // the same again: nothing changed
	EXPECT_EQ(calls, 1);
	EXPECT_TRUE(set({"tlsupd-publish-missing"}));
	EXPECT_EQ(calls, 1);

	key_serial_t cycle = add_keyring("tlsupd-publish-cycle", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(cycle, 0x3f3f0000), 0);
	ASSERT_EQ(keyctl_link(linker.holder(), cycle), 0);
	EXPECT_FALSE(set({"tlsupd-publish-publish", "tlsupd-publish-cycle"}));
	EXPECT_EQ(calls, 0);
	// The tick publishes only a change, and not with set()'s callback.
	EXPECT_FALSE(linker.retry(log.log(), publish));
	EXPECT_EQ(calls, 0);

	keyctl_unlink(linker.holder(), cycle);
	keyctl_unlink(linker.holder(), KEY_SPEC_PROCESS_KEYRING);
	for (key_serial_t k : {ring, cycle})
		keyctl_unlink(k, KEY_SPEC_SESSION_KEYRING);
}

// Each change of a missing keyring's fate is said once: refused, then
// trusted but not linkable (here a cycle: tlsupd:linked inside it), then
// linked, then no longer trusted, then trusted and not linkable again.
// Refusals and link failures were one list: a keyring refused once was
// never said to fail its link.
TEST(Keyring, AKeyringRefusedThenTrustedWhoseLinkFailsIsSaidOnceEachTime) {
	ASSERT_TRUE(ensure_process_keyring().ok());
	const key_perm_t open = KEY_POS_ALL | KEY_USR_ALL | KEY_OTH_VIEW | KEY_OTH_WRITE;
	const key_perm_t closed = KEY_POS_ALL | KEY_USR_ALL | KEY_OTH_VIEW;
	key_serial_t ring = add_keyring("tlsupd-refused-then", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, open), 0);
	CaptureLog log;
	auto said = [&](const std::string &what) {
		std::string line =
		        "keyring 'tlsupd-refused-then' (" + std::to_string(ring) + ") " + what;
		auto lines = log.lines();
		return std::count_if(lines.begin(), lines.end(), [&](const std::string &l) {
			return l.find(line) != std::string::npos;
		});
	};
	KeyringLinker linker(std::vector<std::string>{});
	const KeyringTrust trust{{geteuid()}};
	ASSERT_TRUE(linker.set({"tlsupd-refused-then"}, {}, "", log.log(), trust).ok());
	EXPECT_EQ(said("refused"), 1);
	EXPECT_TRUE(linker.missing());
	EXPECT_FALSE(linker.retry(log.log()));
	EXPECT_EQ(said("refused"), 1);

	ASSERT_EQ(keyctl_link(linker.holder(), ring), 0);
	ASSERT_EQ(keyctl_setperm(ring, closed), 0);
	EXPECT_FALSE(linker.retry(log.log()));
	EXPECT_EQ(said("not linked"), 1) << "trusted now, its link failed, and nothing said";
	EXPECT_FALSE(linker.retry(log.log()));
	EXPECT_EQ(said("not linked"), 1);

	ASSERT_EQ(keyctl_unlink(linker.holder(), ring), 0);
	EXPECT_TRUE(linker.retry(log.log()));
	EXPECT_EQ(said("appeared: linked"), 1);
	EXPECT_FALSE(linker.missing());

	ASSERT_EQ(keyctl_setperm(ring, open), 0);
	EXPECT_TRUE(linker.retry(log.log()));
	EXPECT_EQ(said("is no longer trusted"), 1);
	EXPECT_FALSE(linker.retry(log.log()));
	EXPECT_EQ(said("refused"), 1);
	ASSERT_EQ(keyctl_link(linker.holder(), ring), 0);
	ASSERT_EQ(keyctl_setperm(ring, closed), 0);
	EXPECT_FALSE(linker.retry(log.log()));
	EXPECT_EQ(said("not linked"), 2);
	EXPECT_FALSE(linker.retry(log.log()));
	EXPECT_EQ(said("not linked"), 2);
	EXPECT_EQ(said("refused"), 1);

	keyctl_unlink(linker.holder(), ring);
	keyctl_unlink(linker.holder(), KEY_SPEC_PROCESS_KEYRING);
	keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING);
}

TEST(Keyring, OfTwoTrustedKeyringsOfANameTheLowestSerialIsUsed) {
	key_serial_t a = add_keyring("tlsupd-twice", KEY_SPEC_SESSION_KEYRING);
	key_serial_t holder = add_keyring("tlsupd-holder", KEY_SPEC_SESSION_KEYRING);
	key_serial_t b = add_keyring("tlsupd-twice", holder); // a second, not a replacement
	ASSERT_NE(a, b);
	auto r = resolve_keyring("tlsupd-twice");
	ASSERT_TRUE(r.ok()) << r.error().reason;
	EXPECT_EQ(r.value(), std::min(a, b));
}

TEST(Keyring, TrustNamesOwnerAndBits) {
	// The check's words: which owner, which bits, and the setperm that
	// would fix them.
	key_serial_t ring = add_keyring("tlsupd-open", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, KEY_POS_ALL | KEY_USR_ALL | KEY_OTH_VIEW | KEY_OTH_WRITE),
	          0);
	auto r = check_keyring_trust(ring, {});
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, EACCES);
	EXPECT_NE(r.error().reason.find("(other write)"), std::string::npos) << r.error().reason;
	EXPECT_NE(r.error().reason.find("0x3f3f0001"), std::string::npos) << r.error().reason;
	ASSERT_EQ(keyctl_setperm(ring, KEY_POS_ALL | KEY_USR_ALL | KEY_OTH_VIEW | KEY_OTH_LINK), 0);
	r = check_keyring_trust(ring, {});
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().reason.find("(other link, possessor write, possessor setattr: who may "
	                                "link a keyring possesses it)"),
	          std::string::npos)
	        << r.error().reason;
	EXPECT_NE(r.error().reason.find("0x1b3f0011"), std::string::npos) << r.error().reason;
	// tlsupd.conf(5): group and other write 0x04 and setattr 0x20; with
	// link 0x10 there, possessor write and setattr.
	EXPECT_EQ(kKeyringChangeByOthers, 0x00002424u);
	EXPECT_EQ(kKeyringLinkByOthers, 0x00001010u);
	EXPECT_EQ(kKeyringChangeByPossessor, 0x24000000u);
	auto user = add_user_key("not-a-ring", bytes("x"));
	EXPECT_EQ(check_keyring_trust(user, {}).error().code, EACCES);
	EXPECT_EQ(check_keyring_trust(0x7ffffff1, {}).error().code, ENOKEY);
	// A trusted owner other than root: this process's uid, named.
	if (geteuid() != 0) {
		EXPECT_FALSE(check_keyring_trust(
		                     add_keyring("tlsupd-mine", KEY_SPEC_SESSION_KEYRING), {})
		                     .ok());
		EXPECT_TRUE(
		        check_keyring_trust(add_keyring("tlsupd-mine2", KEY_SPEC_SESSION_KEYRING),
		                            KeyringTrust{{geteuid()}})
		                .ok());
	}
}

} // namespace
} // namespace tlsup::test
