// SPDX-License-Identifier: GPL-2.0
//
// The crypto policy: the system's default priority with TLS 1.3 and the
// kTLS ciphers appended. Run twice by ctest: as is, and (agent.policy.*)
// under a system configuration that disables AES-256-GCM and X25519,
// which tlsupd must not add back.
#include <algorithm>
#include <cstdlib>
#include <gtest/gtest.h>

#include "engine_run.hpp"
#include "priorities.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

bool restricted() {
	const char *f = std::getenv("GNUTLS_SYSTEM_PRIORITY_FILE");
	return f && std::string(f).find("no-aes256-no-x25519") != std::string::npos;
}

bool has(const std::vector<std::string> &v, const std::string &s) {
	return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Priorities, OnlyKtlsCiphersAndTls13) {
	auto p = Priorities::create();
	ASSERT_TRUE(p.ok()) << p.error().reason;
	for (gnutls_priority_t prio :
	     {(*p)->certificate(), (*p)->psk(0), (*p)->psk(32), (*p)->psk(48)}) {
		if (!prio)
			continue; // no suite of that hash under this policy
		for (const auto &c : priority_ciphers(prio))
			EXPECT_TRUE(c == "AES-256-GCM" || c == "AES-128-GCM" ||
			            c == "CHACHA20-POLY1305" || c == "AES-128-CCM")
			        << c;
	}
	auto cert = priority_ciphers((*p)->certificate());
	EXPECT_FALSE(cert.empty());
	EXPECT_NE((*p)->appended().find("+VERS-TLS1.3"), std::string::npos);
	EXPECT_NE((*p)->appended().find("%NO_TICKETS"), std::string::npos);
	// The PSK hash follows the key length.
	if ((*p)->psk(48)) {
		for (const auto &c : priority_ciphers((*p)->psk(48)))
			EXPECT_EQ(c, "AES-256-GCM");
	}
	for (const auto &c : priority_ciphers((*p)->psk(32)))
		EXPECT_NE(c, "AES-256-GCM");
}

TEST(Priorities, GroupsAreTheSystemsWithX25519FirstWhereAllowed) {
	gnutls_priority_t raw = nullptr;
	ASSERT_EQ(gnutls_priority_init(&raw, nullptr, nullptr), 0);
	auto system = priority_groups(raw);
	gnutls_priority_deinit(raw);
	auto p = Priorities::create().value();
	auto groups = priority_groups(p->certificate());
	ASSERT_FALSE(groups.empty());
	// Exactly the system's groups: none added, none lost.
	auto a = system, b = groups;
	std::sort(a.begin(), a.end());
	std::sort(b.begin(), b.end());
	EXPECT_EQ(a, b);
	if (has(system, "X25519")) {
		EXPECT_EQ(groups.front(), "X25519");
	} else {
		EXPECT_EQ(groups.front(), system.front());
		bool noted = false;
		for (const auto &n : p->notes())
			noted |= n.find("X25519 is not allowed") != std::string::npos;
		EXPECT_TRUE(noted);
	}
}

TEST(Priorities, MlKemHybridsWhereThisGnutlsHasThem) {
	auto p = Priorities::create().value();
	bool have = gnutls_group_get_id("X25519-MLKEM768") != GNUTLS_GROUP_INVALID;
	bool noted = false;
	for (const auto &n : p->notes())
		noted |= n.find("no ML-KEM hybrid groups in this GnuTLS") != std::string::npos;
	EXPECT_EQ(noted, !have);
	if (!have)
		GTEST_SKIP() << "GnuTLS " << gnutls_check_version(nullptr)
		             << " has no ML-KEM hybrid groups (3.8.9+): the hybrid ordering is "
		                "untested here";
	auto groups = priority_groups(p->certificate());
	EXPECT_EQ(groups.front(), "X25519-MLKEM768");
}

TEST(Priorities, TheSystemPolicyIsObeyed) {
	if (!restricted())
		GTEST_SKIP() << "runs as agent.policy.* under the restricting configuration";
	auto p = Priorities::create();
	ASSERT_TRUE(p.ok()) << p.error().reason;
	EXPECT_FALSE(has(priority_ciphers((*p)->certificate()), "AES-256-GCM"));
	EXPECT_FALSE(has(priority_groups((*p)->certificate()), "X25519"));
	EXPECT_EQ((*p)->psk(48), nullptr); // no SHA-384 suite left
}

TEST(Priorities, AHandshakeUnderThePolicyUsesWhatItAllows) {
	// Against a peer that prefers AES-256-GCM: negotiated under the
	// default policy, never under the restricting one.
	auto prio = Priorities::create().value();
	auto s = engine_setup(Role::Client, Auth::Anonymous, make_credentials(ConfigSpec{}), *prio);
	s.peername = "server.test";
	PeerOptions peer = server_peer("server");
	peer.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM";
	CaptureLog log;
	auto r = run_engine(std::move(s), tcp_pair(), peer, log.log());
	ASSERT_TRUE(r.result.ok()) << r.reason();
	auto cipher = gnutls_cipher_get(r.session->gnutls());
	if (restricted())
		EXPECT_EQ(cipher, GNUTLS_CIPHER_AES_128_GCM);
	else
		EXPECT_EQ(cipher, GNUTLS_CIPHER_AES_256_GCM);
}

} // namespace
} // namespace tlsup::test
