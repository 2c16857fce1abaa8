// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: configuration keys that narrow who is accepted. A key
// tlsupd read but did not act on would silently widen a configuration:
// "[authenticate.server] x509.client_allowed_sans = a.example" let in every
// client the trust store verifies. Each such key is either implemented or
// refused at start-up with its name. The attacker here is a client with a
// certificate the trust store accepts, but not one the administrator let in.
#include <gtest/gtest.h>

#include "config.hpp"
#include "credentials.hpp"
#include "engine_run.hpp"
#include "handshake.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

class AttackRestriction : public ::testing::Test {
protected:
	void SetUp() override { prio_ = Priorities::create().value(); }

	// The configuration TEXT (its [authenticate.server] section's extra
	// lines) as tlsupd reads it, with the test PKI's server identity and CA.
	Result<std::shared_ptr<const Credentials>> load(const std::string &server_extra) {
		const Pki &pki = Pki::get();
		std::string text =
		        "[authenticate.server]\nx509.truststore = " + pki.path("ca.pem") +
		        "\nx509.certificate = " + pki.path("server.pem") +
		        "\nx509.private_key = " + pki.path("server.key") + "\n" + server_extra +
		        "\n";
		auto cfg = parse_config(text, "t.conf");
		if (!cfg)
			return cfg.error();
		return load_credentials(cfg.value());
	}

	// A server x509 handshake of the engine against a GnuTLS client that
	// presents CLIENT ("" for none).
	EngineRun handshake(std::shared_ptr<const Credentials> creds, const std::string &client) {
		return run_engine(engine_setup(Role::Server, Auth::X509, std::move(creds), *prio_),
		                  unix_pair(), client_peer(client), log_.log());
	}

	// The remote identities a successful handshake reports.
	static std::vector<uint32_t> remote(const EngineRun &r) {
		if (!r.result)
			return {};
		auto ids = r.session->remote_identities();
		return ids ? ids.value() : std::vector<uint32_t>{};
	}

	std::unique_ptr<Priorities> prio_;
	CaptureLog log_;
};

TEST_F(AttackRestriction, AClientOutsideTheAllowedSansIsRefused) {
	auto creds = load("x509.client_allowed_sans = a.example;192.0.2.99");
	ASSERT_TRUE(creds.ok()) << creds.error().reason;
	auto r = handshake(creds.value(), "client"); // client.test, verified by the CA
	ASSERT_FALSE(r.result.ok()) << "client.test authenticated though only a.example is allowed";
	EXPECT_EQ(r.result.error().code, EACCES);
	EXPECT_NE(r.result.error().reason.find("client certificate (DNS:client.test) matches no "
	                                       "entry of [authenticate.server] "
	                                       "x509.client_allowed_sans"),
	          std::string::npos)
	        << r.result.error().reason;
}

TEST_F(AttackRestriction, ClientAuthRequiresACertificate) {
	auto creds = load("x509.client_auth = 1");
	ASSERT_TRUE(creds.ok()) << creds.error().reason;
	auto r = handshake(creds.value(), "");
	ASSERT_FALSE(r.result.ok()) << "a client without a certificate got through";
	EXPECT_EQ(r.result.error().code, EACCES) << r.result.error().reason;
}

TEST_F(AttackRestriction, AnAllowedClientIsAcceptedByDnsOrIpSan) {
	for (const char *allowed : {"client.test", "CLIENT.test.", "other.example; client.test"}) {
		auto creds =
		        load(std::string("x509.client_auth = true\nx509.client_allowed_sans = ") +
		             allowed);
		ASSERT_TRUE(creds.ok()) << creds.error().reason;
		auto r = handshake(creds.value(), "client");
		ASSERT_TRUE(r.result.ok()) << allowed << ": " << r.result.error().reason;
		EXPECT_EQ(remote(r).size(), 1u) << allowed;
	}
	for (const char *allowed : {"192.0.2.7", "2001:db8:0::7", "client2.test"}) {
		auto creds = load(std::string("x509.client_allowed_sans = ") + allowed);
		ASSERT_TRUE(creds.ok()) << creds.error().reason;
		auto r = handshake(creds.value(), "client-ip");
		ASSERT_TRUE(r.result.ok()) << allowed << ": " << r.result.error().reason;
		EXPECT_EQ(remote(r).size(), 1u) << allowed;
	}
	// An address is not a name, a name is not an address, and no part of
	// one matches: 192.0.2.7 is no "192.0.2.77", client.test no "test".
	for (const char *allowed : {"192.0.2.77", "test", "client.tes", "*.test", "2001:db8::8"}) {
		auto creds = load(std::string("x509.client_allowed_sans = ") + allowed);
		ASSERT_TRUE(creds.ok()) << creds.error().reason;
		EXPECT_FALSE(handshake(creds.value(), "client-ip").result.ok()) << allowed;
		EXPECT_FALSE(handshake(creds.value(), "client").result.ok()) << allowed;
	}
}

TEST_F(AttackRestriction, WithoutClientAuthAClientMayStayAnonymous) {
	// As ktls-utils: the consumer decides whether an unauthenticated client
	// will do (NFS xprtsec=tls); the allow-list judges only a certificate.
	auto creds = load("x509.client_allowed_sans = a.example");
	ASSERT_TRUE(creds.ok()) << creds.error().reason;
	auto r = handshake(creds.value(), "");
	ASSERT_TRUE(r.result.ok()) << r.result.error().reason;
	EXPECT_TRUE(remote(r).empty());
}

TEST_F(AttackRestriction, AMeaninglessRestrictionStopsStartUp) {
	// A value that cannot be read as the restriction it names must not be
	// read as no restriction.
	for (const char *bad : {"x509.client_auth = maybe",
	                        "x509.client_allowed_sans =", "x509.client_allowed_sans = ;"}) {
		auto creds = load(bad);
		ASSERT_FALSE(creds.ok()) << bad;
		EXPECT_NE(creds.error().reason.find("t.conf: [authenticate.server] x509.client_"),
		          std::string::npos)
		        << creds.error().reason;
	}
}

TEST_F(AttackRestriction, DaneThatCanRefuseAServerIsRefused) {
	// ktls-utils' DANE: "require", and "opportunistic" too, refuse a server
	// whose certificate does not match a DNSSEC-signed TLSA record (or
	// when the lookup fails); without DANE, tlsupd would accept it.
	for (const char *mode : {"require", "opportunistic", "Opportunistic", "sometimes"}) {
		auto cfg = parse_config(std::string("[authenticate]\ndane = ") + mode + "\n",
		                        "t.conf");
		ASSERT_FALSE(cfg.ok()) << mode;
		EXPECT_NE(cfg.error().reason.find("t.conf: [authenticate] dane"), std::string::npos)
		        << cfg.error().reason;
	}
	auto off = parse_config("[authenticate]\ndane = off\n", "t.conf");
	ASSERT_TRUE(off.ok()) << off.error().reason;
}

} // namespace
} // namespace tlsup::test
