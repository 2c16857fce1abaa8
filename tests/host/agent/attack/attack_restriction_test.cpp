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
#include "handshake.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using Progress = TlsSession::Progress;

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

	struct Outcome {
		Result<Progress> server = make_error(EIO, "not run");
		std::vector<uint32_t> remote;
	};

	// A server x509 handshake of the engine against a GnuTLS client that
	// presents CLIENT ("" for none).
	Outcome handshake(std::shared_ptr<const Credentials> creds, const std::string &client) {
		SessionSetup s;
		s.role = Role::Server;
		s.auth = Auth::X509;
		s.credentials = std::move(creds);
		s.priorities = prio_.get();
		s.peer_keys = &peer_keys();
		auto fds = unix_pair();
		s.fd = fds.first.get();
		PeerOptions p;
		p.server = false;
		p.ca = "ca.pem";
		p.verify_name = "server.test";
		if (!client.empty())
			p.cert = p.key = client;
		Peer peer(std::move(fds.second), p);
		Outcome out;
		auto session = TlsSession::create(std::move(s), log_.log());
		if (!session) {
			out.server = session.error();
		} else {
			out.server = drive(**session, fds.first.get());
			if (out.server) {
				auto ids = (*session)->remote_identities();
				if (ids)
					out.remote = ids.value();
			}
		}
		if (!out.server)
			::shutdown(fds.first.get(), SHUT_RDWR);
		peer.wait();
		return out;
	}

	std::unique_ptr<Priorities> prio_;
	CaptureLog log_;
};

TEST_F(AttackRestriction, AClientOutsideTheAllowedSansIsRefused) {
	auto creds = load("x509.client_allowed_sans = a.example;192.0.2.99");
	ASSERT_TRUE(creds.ok()) << creds.error().reason;
	auto r = handshake(creds.value(), "client"); // client.test, verified by the CA
	ASSERT_FALSE(r.server.ok()) << "client.test authenticated though only a.example is allowed";
	EXPECT_EQ(r.server.error().code, EACCES);
	EXPECT_NE(r.server.error().reason.find("client certificate (DNS:client.test) matches no "
	                                       "entry of [authenticate.server] "
	                                       "x509.client_allowed_sans"),
	          std::string::npos)
	        << r.server.error().reason;
}

TEST_F(AttackRestriction, ClientAuthRequiresACertificate) {
	auto creds = load("x509.client_auth = 1");
	ASSERT_TRUE(creds.ok()) << creds.error().reason;
	auto r = handshake(creds.value(), "");
	ASSERT_FALSE(r.server.ok()) << "a client without a certificate got through";
	EXPECT_EQ(r.server.error().code, EACCES) << r.server.error().reason;
}

TEST_F(AttackRestriction, AnAllowedClientIsAcceptedByDnsOrIpSan) {
	for (const char *allowed : {"client.test", "CLIENT.test.", "other.example; client.test"}) {
		auto creds =
		        load(std::string("x509.client_auth = true\nx509.client_allowed_sans = ") +
		             allowed);
		ASSERT_TRUE(creds.ok()) << creds.error().reason;
		auto r = handshake(creds.value(), "client");
		ASSERT_TRUE(r.server.ok()) << allowed << ": " << r.server.error().reason;
		EXPECT_EQ(r.remote.size(), 1u) << allowed;
	}
	for (const char *allowed : {"192.0.2.7", "2001:db8:0::7", "client2.test"}) {
		auto creds = load(std::string("x509.client_allowed_sans = ") + allowed);
		ASSERT_TRUE(creds.ok()) << creds.error().reason;
		auto r = handshake(creds.value(), "client-ip");
		ASSERT_TRUE(r.server.ok()) << allowed << ": " << r.server.error().reason;
		EXPECT_EQ(r.remote.size(), 1u) << allowed;
	}
	// An address is not a name, a name is not an address, and no part of
	// one matches: 192.0.2.7 is no "192.0.2.77", client.test no "test".
	for (const char *allowed : {"192.0.2.77", "test", "client.tes", "*.test", "2001:db8::8"}) {
		auto creds = load(std::string("x509.client_allowed_sans = ") + allowed);
		ASSERT_TRUE(creds.ok()) << creds.error().reason;
		EXPECT_FALSE(handshake(creds.value(), "client-ip").server.ok()) << allowed;
		EXPECT_FALSE(handshake(creds.value(), "client").server.ok()) << allowed;
	}
}

TEST_F(AttackRestriction, WithoutClientAuthAClientMayStayAnonymous) {
	// As ktls-utils: the consumer decides whether an unauthenticated client
	// will do (NFS xprtsec=tls); the allow-list judges only a certificate.
	auto creds = load("x509.client_allowed_sans = a.example");
	ASSERT_TRUE(creds.ok()) << creds.error().reason;
	auto r = handshake(creds.value(), "");
	ASSERT_TRUE(r.server.ok()) << r.server.error().reason;
	EXPECT_TRUE(r.remote.empty());
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
