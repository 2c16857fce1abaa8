// SPDX-License-Identifier: GPL-2.0
//
// What a session presents: the second (x509.pq) certificate when the
// peer's signature algorithms can verify it, else the first; a private key
// in a PKCS#11 token (SoftHSM, a private SOFTHSM2_CONF) by its URL; and
// ML-DSA where this GnuTLS has it.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <thread>

#include "credentials.hpp"
#include "engine_run.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

class IdentityTest : public ::testing::Test {
protected:
	void SetUp() override { prio_ = Priorities::create().value(); }

	// A server handshake presenting SPEC's identities to a client peer
	// limited to SIGN (a GnuTLS priority fragment); the certificate the
	// peer saw.
	std::vector<uint8_t> server_presents(const ConfigSpec &spec, const std::string &sign) {
		PeerOptions p = client_peer("");
		p.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3" + sign;
		auto r = run_engine(
		        engine_setup(Role::Server, Auth::X509, make_credentials(spec), *prio_),
		        tcp_pair(), p, log_.log());
		EXPECT_TRUE(r.result.ok()) << r.reason();
		EXPECT_EQ(r.peer.ret, 0) << r.peer.error;
		return r.peer.agent_cert_der;
	}

	std::unique_ptr<Priorities> prio_;
	CaptureLog log_;
};

TEST_F(IdentityTest, TheSecondCertificateGoesToPeersThatCanVerifyIt) {
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server"; // ECDSA P-256
	spec.server_pq = "server-ed25519";
	const auto ecdsa = Pki::get().cert_der("server");
	const auto ed25519 = Pki::get().cert_der("server-ed25519");
	EXPECT_EQ(server_presents(spec, ":-SIGN-ALL:+SIGN-EDDSA-ED25519"), ed25519);
	EXPECT_EQ(server_presents(spec, ":-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256"), ecdsa);
	EXPECT_EQ(server_presents(spec, ""), ed25519); // both: the second one, as tlshd prefers
	spec.server_pq.clear();
	EXPECT_EQ(server_presents(spec, ""), ecdsa);
}

TEST_F(IdentityTest, AClientPresentsTheSecondToAServerThatAsksForIt) {
	ConfigSpec spec;
	spec.client_cert = spec.client_key = "client";
	spec.client_pq = "client-ed25519";
	for (bool ed : {true, false}) {
		CaptureLog log;
		auto s = engine_setup(Role::Client, Auth::X509, make_credentials(spec), *prio_);
		s.peername = "server.test";
		PeerOptions p = verifying_server();
		// The server's signature algorithms (its CertificateRequest): its
		// own certificate is ECDSA, so that one stays allowed.
		p.priority = ed ? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
		                : "NORMAL:-VERS-ALL:+VERS-TLS1.3:-SIGN-EDDSA-ED25519";
		auto r = run_engine(std::move(s), tcp_pair(), p, log.log());
		ASSERT_TRUE(r.result.ok()) << r.reason();
		EXPECT_EQ(r.peer.ret, 0) << r.peer.error;
		EXPECT_EQ(log.contains("presenting the x509.pq certificate"), ed) << ed;
	}
}

TEST_F(IdentityTest, AnUnreadableSecondCertificateIsAWarning) {
	Config cfg = make_config(ConfigSpec{});
	const Pki &pki = Pki::get();
	cfg.server.certificate = pki.path("server.pem");
	cfg.server.private_key = pki.path("server.key");
	cfg.server.pq_certificate = pki.path("server-ed25519.pem");
	cfg.server.pq_private_key = pki.path("server.key"); // not its key
	auto creds = load_credentials(cfg);
	ASSERT_TRUE(creds.ok()) << creds.error().reason;
	EXPECT_TRUE((*creds)->server.identity.has_value());
	EXPECT_FALSE((*creds)->server.pq_identity.has_value());
	bool warned = false;
	for (const auto &w : (*creds)->warnings)
		warned |= w.find("only x509.certificate is presented") != std::string::npos;
	EXPECT_TRUE(warned);
}

TEST_F(IdentityTest, MlDsaWhereThisGnutlsHasIt) {
	if (gnutls_pk_get_id("ML-DSA-65") == GNUTLS_PK_UNKNOWN)
		GTEST_SKIP() << "GnuTLS " << gnutls_check_version(nullptr)
		             << " has no ML-DSA (3.8.10+): an ML-DSA x509.pq certificate cannot be "
		                "read here; the second-certificate choice is tested with Ed25519";
	FAIL() << "this GnuTLS has ML-DSA: add an ML-DSA x509.pq certificate to the test PKI";
}

// ---- a private key in a PKCS#11 token ----

class SoftHsm : public ::testing::Test {
protected:
	void SetUp() override {
		if (!softhsm_token().empty())
			GTEST_SKIP() << softhsm_token();
	}
};

constexpr const char *kKeyUrl = kTokenKeyUrl;

TEST_F(SoftHsm, TheServerKeyLivesInTheToken) {
	Config cfg = make_config(ConfigSpec{});
	cfg.server.certificate = Pki::get().path("server.pem");
	cfg.server.private_key = kKeyUrl;
	auto creds = load_credentials(cfg);
	ASSERT_TRUE(creds.ok()) << creds.error().reason;
	ASSERT_TRUE((*creds)->server.identity.has_value());

	auto prio = Priorities::create().value();
	CaptureLog log;
	auto r = run_engine(engine_setup(Role::Server, Auth::X509, creds.value(), *prio),
	                    tcp_pair(), client_peer(""), log.log());
	ASSERT_TRUE(r.result.ok()) << r.reason();
	const PeerOutcome &out = r.peer;
	EXPECT_EQ(out.ret, 0) << out.error; // the token signed the CertificateVerify
	EXPECT_EQ(out.agent_cert_der, Pki::get().cert_der("server"));
}

TEST_F(SoftHsm, ManyHandshakesAtOnceShareTheTokenKey) {
	// One configured key, every session presenting it, handshakes on
	// several threads at once.
	Config cfg = make_config(ConfigSpec{});
	cfg.server.certificate = Pki::get().path("server.pem");
	cfg.server.private_key = kKeyUrl;
	auto creds = load_credentials(cfg).value();
	constexpr int kThreads = 4, kEach = 6;
	std::atomic<int> ok{0};
	std::vector<std::thread> threads;
	for (int t = 0; t < kThreads; t++)
		threads.emplace_back([&] {
			auto prio = Priorities::create().value();
			for (int i = 0; i < kEach; i++) {
				CaptureLog log;
				auto r = run_engine(
				        engine_setup(Role::Server, Auth::X509, creds, *prio),
				        tcp_pair(), client_peer(""), log.log());
				if (r.result && r.peer.ret == 0)
					ok++;
			}
		});
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(ok.load(), kThreads * kEach);
}

TEST_F(SoftHsm, AMissingOrForeignTokenKeyStopsTheLoad) {
	Config cfg = make_config(ConfigSpec{});
	cfg.server.certificate = Pki::get().path("server.pem");
	cfg.server.private_key = std::string("pkcs11:token=tlsupd-test;object=nothing;type=private"
	                                     "?pin-value=") +
	                         kTokenPin;
	auto missing = load_credentials(cfg);
	ASSERT_FALSE(missing.ok());
	EXPECT_NE(missing.error().reason.find("x509.private_key"), std::string::npos)
	        << missing.error().reason;
	cfg.server.certificate = Pki::get().path("client.pem"); // not the token key's
	cfg.server.private_key = kKeyUrl;
	auto foreign = load_credentials(cfg);
	ASSERT_FALSE(foreign.ok());
	EXPECT_NE(foreign.error().reason.find("does not belong"), std::string::npos)
	        << foreign.error().reason;
}

} // namespace
} // namespace tlsup::test
