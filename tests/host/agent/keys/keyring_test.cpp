// SPDX-License-Identifier: GPL-2.0
//
// Key material by serial, PSK identities by description, keyrings by name,
// and the keys that carry verified peer certificates.
#include <algorithm>
#include <gtest/gtest.h>
#include <latch>
#include <optional>
#include <thread>
#include <unistd.h>
#include <vector>

#include "keyring.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

TEST(Keyring, ReadsPayloadAndDescription) {
	auto payload = random_bytes(48);
	auto id = add_user_key("NVMe0R02 host;with;semicolons", payload);
	auto k = read_key(id);
	ASSERT_TRUE(k.ok()) << k.error().reason;
	EXPECT_EQ(std::vector<uint8_t>(k->data(), k->data() + k->size()), payload);
	auto d = key_description(id);
	ASSERT_TRUE(d.ok());
	EXPECT_EQ(*d, "NVMe0R02 host;with;semicolons");
}

TEST(Keyring, MissingOrRevokedKeyIsEnokey) {
	auto id = add_user_key("short-lived", bytes("x"));
	ASSERT_EQ(keyctl_revoke(id), 0);
	EXPECT_EQ(read_key(id).error().code, ENOKEY);
	EXPECT_EQ(read_key(0x7ffffff1).error().code, ENOKEY);
	EXPECT_EQ(key_description(0x7ffffff1).error().code, ENOKEY);
}

TEST(Keyring, SearchesKeyringsInOrder) {
	key_serial_t a = add_keyring("ring a", KEY_SPEC_SESSION_KEYRING);
	key_serial_t b = add_keyring("ring b", KEY_SPEC_SESSION_KEYRING);
	auto in_b = add_user_key("ident", bytes("b"), b);
	auto in_a = add_user_key("ident", bytes("a"), a);
	std::vector<key_serial_t> ab{a, b}, ba{b, a};
	EXPECT_EQ(search_keyrings(ab, "user", "ident"), in_a);
	EXPECT_EQ(search_keyrings(ba, "user", "ident"), in_b);
	EXPECT_EQ(search_keyrings(ab, "user", "nobody"), 0);
	EXPECT_EQ(search_keyrings(ab, "psk", "ident"), 0); // another type
	auto d = describe_key(in_a);
	ASSERT_TRUE(d.ok());
	EXPECT_EQ(d->type, "user");
	EXPECT_EQ(d->description, "ident");
}

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

TEST(Keyring, OfTwoTrustedKeyringsOfANameTheLowestSerialIsUsed) {
	key_serial_t a = add_keyring("tlsupd-twice", KEY_SPEC_SESSION_KEYRING);
	key_serial_t holder = add_keyring("tlsupd-holder", KEY_SPEC_SESSION_KEYRING);
	key_serial_t b = add_keyring("tlsupd-twice", holder); // a second, not a replacement
	ASSERT_NE(a, b);
	auto r = resolve_keyring("tlsupd-twice");
	ASSERT_TRUE(r.ok()) << r.error().reason;
	EXPECT_EQ(r.value(), std::min(a, b));
}

TEST(Keyring, DescriptionCarriesOwnerAndPermissions) {
	key_serial_t ring = add_keyring("tlsupd-described", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, KEY_POS_ALL | KEY_USR_VIEW | KEY_OTH_VIEW), 0);
	auto d = describe_key(ring);
	ASSERT_TRUE(d.ok()) << d.error().reason;
	EXPECT_EQ(d->type, "keyring");
	EXPECT_EQ(d->description, "tlsupd-described");
	EXPECT_EQ(d->uid, geteuid());
	EXPECT_EQ(d->gid, getegid());
	EXPECT_EQ(d->perm, KEY_POS_ALL | KEY_USR_VIEW | KEY_OTH_VIEW);
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

TEST(Keyring, PeerCertificateKeyIsStableAndExpires) {
	const auto &keys = peer_keys();
	auto der = Pki::get().cert_der("client");
	time_t in_ten_days = time(nullptr) + 10 * 86400;
	auto a = keys.store(der, in_ten_days);
	auto b = keys.store(der, in_ten_days);
	ASSERT_TRUE(a.ok() && b.ok()) << (a ? b.error().reason : a.error().reason);
	EXPECT_GT(a.value(), 0);
	EXPECT_EQ(a.value(), b.value());
	expect_certificate_key(a.value(), der);
	// At most a day, however long the certificate lasts.
	auto expiry = key_expiry(a.value());
	EXPECT_TRUE(expiry == "1d" || expiry == "23h") << expiry;
	auto other = keys.store(Pki::get().cert_der("server"), time(nullptr) + 100);
	ASSERT_TRUE(other.ok());
	EXPECT_NE(other.value(), a.value());
	EXPECT_EQ(key_expiry(other.value()), "1m"); // with the certificate
}

TEST(Keyring, TheSameCertificateAgainIsTheKeyStoredAMinuteAgo) {
	// A reconnect storm verifies one server many times over: the key
	// stored for it is reused without asking the kernel again -- seen
	// here by an expiry changed behind store()'s back staying as it was
	// -- and stored afresh (expiry set again) after forget_stored(), as
	// it would be a minute later.
	const auto &keys = peer_keys();
	auto der = Pki::get().cert_der("client");
	time_t in_ten_days = time(nullptr) + 10 * 86400;
	auto a = keys.store(der, in_ten_days).value();
	ASSERT_EQ(keyctl_set_timeout(a, 3 * 3600), 0);
	EXPECT_EQ(keys.store(der, in_ten_days).value(), a);
	EXPECT_EQ(key_expiry(a), "3h");
	keys.forget_stored();
	EXPECT_EQ(keys.store(der, in_ten_days).value(), a);
	auto expiry = key_expiry(a);
	EXPECT_TRUE(expiry == "1d" || expiry == "23h") << expiry;
}

TEST(Keyring, PeerCertificateKeysLiveInTheAgentsOwnKeyring) {
	const auto &keys = peer_keys();
	auto der = Pki::get().cert_der("client");
	auto id = keys.store(der, time(nullptr) + 3600).value();
	auto desc = key_description(id).value();
	auto d = describe_key(keys.keyring()).value();
	EXPECT_EQ(d.type, "keyring");
	EXPECT_TRUE(is_agent_key_name(d.description)) << d.description;
	EXPECT_TRUE(is_agent_key_name(desc)) << desc;
	long in_ring =
	        keyctl_search(keys.keyring(), describe_key(id)->type.c_str(), desc.c_str(), 0);
	EXPECT_EQ(in_ring, id);
	EXPECT_LT(keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", desc.c_str(), 0), 0);
}

TEST(Keyring, WorkersStoringOneCertificateAtOnceGetOneLiveKey) {
	// Every worker stores the certificate of the peer it verified; several
	// may verify the same server at once. Each must get the key that stays
	// in the keyring: an "asymmetric" key added again displaces the first,
	// whose serial would reach the consumer dead (and whose permissions can
	// no longer be set: EACCES, seen as a failed handshake under TSan).
	const auto &keys = peer_keys();
	constexpr int kThreads = 4;
	for (const char *name : {"server", "rsa-client"}) {
		auto der = Pki::get().cert_der(name);
		for (int round = 0; round < 100; round++) {
			std::vector<std::optional<key_serial_t>> got(kThreads);
			std::vector<std::string> why(kThreads);
			std::latch go(kThreads);
			std::vector<std::thread> threads;
			for (int t = 0; t < kThreads; t++)
				threads.emplace_back([&, t] {
					go.arrive_and_wait();
					auto r = keys.store(der, time(nullptr) + 3600);
					if (r)
						got[t] = r.value();
					else
						why[t] = r.error().reason;
				});
			for (auto &t : threads)
				t.join();
			for (int t = 0; t < kThreads; t++) {
				ASSERT_TRUE(got[t]) << name << " round " << round << ": " << why[t];
				ASSERT_EQ(*got[t], *got[0]) << name << " round " << round;
			}
			auto d = describe_key(*got[0]);
			ASSERT_TRUE(d.ok()) << d.error().reason;
			EXPECT_EQ(keyctl_search(keys.keyring(), d->type.c_str(),
			                        d->description.c_str(), 0),
			          *got[0]);
			// The next round adds it anew.
			ASSERT_EQ(keyctl_unlink(*got[0], keys.keyring()), 0);
			keys.forget_stored();
		}
	}
}

TEST(Keyring, PeerCertificateIsAnAsymmetricKeyWhereTheKernelParsesIt) {
	// As ktls-utils stores it; this host's kernel parses an RSA leaf if it
	// has CONFIG_ASYMMETRIC_KEY_TYPE and an X.509 parser.
	auto der = Pki::get().cert_der("rsa-client");
	key_serial_t probe = add_key("asymmetric", "tlsupd-probe", der.data(), der.size(),
	                             KEY_SPEC_SESSION_KEYRING);
	if (probe < 0)
		GTEST_SKIP() << "no asymmetric key type for this certificate here: "
		             << strerror(errno);
	keyctl_invalidate(probe);
	auto id = peer_keys().store(der, time(nullptr) + 3600);
	ASSERT_TRUE(id.ok()) << id.error().reason;
	EXPECT_EQ(describe_key(id.value())->type, "asymmetric");
	EXPECT_EQ(peer_keys().store(der, time(nullptr) + 3600).value(), id.value());
	EXPECT_NE(key_expiry(id.value()), "perm");
}

} // namespace
} // namespace tlsup::test
