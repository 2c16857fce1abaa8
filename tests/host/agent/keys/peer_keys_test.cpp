// SPDX-License-Identifier: GPL-2.0
//
// The keys that carry verified peer certificates.
#include <gtest/gtest.h>
#include <latch>
#include <optional>
#include <thread>
#include <unistd.h>
#include <vector>

#include "peer_keys.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

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
