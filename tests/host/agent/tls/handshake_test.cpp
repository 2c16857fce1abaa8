// SPDX-License-Identifier: GPL-2.0
//
// The handshake engine against GnuTLS peers over socketpairs and loopback
// TCP: every auth mode, and every way a handshake can fail.
#include <gtest/gtest.h>
#include <keyutils.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <uapi/linux/handshake.h>

#include "engine_run.hpp"
#include "handshake_failure.hpp"
#include "keyring.hpp"
#include "record_size_limit.hpp"
#include "test_support.hpp"
#include "worker.hpp"

namespace tlsup::test {
namespace {

using Progress = TlsSession::Progress;

class HandshakeTest : public ::testing::Test {
protected:
	void SetUp() override {
		prio_ = Priorities::create().value();
		creds_ = make_credentials(full_spec());
	}

	static ConfigSpec full_spec() {
		ConfigSpec s;
		s.crl = "crl.pem";
		s.client_cert = s.client_key = "client";
		s.server_cert = s.server_key = "server";
		return s;
	}

	SessionSetup setup(Role role, Auth auth) {
		SessionSetup s = engine_setup(role, auth, creds_, *prio_);
		s.keyrings = {psk_ring_};
		s.psk_keyrings = {psk_ring_};
		return s;
	}

	EngineRun run(SessionSetup s, std::pair<UniqueFd, UniqueFd> fds, PeerOptions peer,
	              PeerAfter after = PeerAfter::Wait) {
		return run_engine(std::move(s), std::move(fds), std::move(peer), log_.log(), after);
	}

	// The client (AUTH) for server.test against PEER over a socketpair.
	EngineRun client_run(PeerOptions peer, Auth auth = Auth::Anonymous,
	                     PeerAfter after = PeerAfter::Wait) {
		auto s = setup(Role::Client, auth);
		s.peername = "server.test";
		return run(std::move(s), unix_pair(), std::move(peer), after);
	}

	// The client (PSK) offering IDENTITIES (key serials) to PEER over a
	// socketpair.
	EngineRun psk_client_run(std::vector<key_serial_t> identities, PeerOptions peer) {
		auto s = setup(Role::Client, Auth::Psk);
		s.peer_identities = std::move(identities);
		return run(std::move(s), unix_pair(), std::move(peer));
	}

	// The server (AUTH) against PEER over a socketpair.
	EngineRun server_run(PeerOptions peer, Auth auth = Auth::X509,
	                     PeerAfter after = PeerAfter::Wait) {
		return run(setup(Role::Server, auth), unix_pair(), std::move(peer), after);
	}

	// A keyring the administrator named for PSKs (psk_keyrings): the
	// server finds "user" keys there.
	key_serial_t psk_ring_ = add_keyring("psk ring", KEY_SPEC_SESSION_KEYRING);
	std::unique_ptr<Priorities> prio_;
	std::shared_ptr<const Credentials> creds_;
	CaptureLog log_;
};

// R failed with STATUS and says NEEDLE ("" for anything) in its reason.
::testing::AssertionResult fails_with(const EngineRun &r, int status,
                                      const std::string &needle = "") {
	if (r.status() == status && r.reason().find(needle) != std::string::npos)
		return ::testing::AssertionSuccess();
	return ::testing::AssertionFailure()
	       << "status " << r.status() << " (want " << status << "), reason \"" << r.reason()
	       << "\" (want \"" << needle << "\" in it)";
}

// ---- client, anonymous: the server is still verified ----

TEST_F(HandshakeTest, ClientAnonVerifiesServerAgainstPeername) {
	auto r = client_run(server_peer("server"));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.result.value(), Progress::Done);
	EXPECT_EQ(r.peer.ret, 0) << r.peer.error;
	EXPECT_EQ(gnutls_protocol_get_version(r.session->gnutls()), GNUTLS_TLS1_3);
	// The verified server certificate comes back as a key holding it.
	auto ids = r.session->remote_identities();
	ASSERT_TRUE(ids.ok()) << ids.error().reason;
	ASSERT_EQ(ids->size(), 1u);
	EXPECT_NE(ids->front(), 0u);
	expect_certificate_key(static_cast<key_serial_t>(ids->front()),
	                       Pki::get().cert_der("server"));
}

TEST_F(HandshakeTest, ClientAnonRejectsUntrustedCa) {
	auto r = client_run(server_peer("rogue-server"));
	EXPECT_TRUE(fails_with(r, EACCES, "rejected"));
	EXPECT_NE(r.peer.ret, 0);
}

TEST_F(HandshakeTest, ClientAnonRejectsExpiredCertificate) {
	auto r = client_run(server_peer("expired"));
	EXPECT_TRUE(fails_with(r, EACCES, "expired"));
}

TEST_F(HandshakeTest, ClientAnonRejectsWrongHost) {
	auto r = client_run(server_peer("wronghost"));
	EXPECT_TRUE(fails_with(r, EACCES, "does not match 'server.test'"));
}

TEST_F(HandshakeTest, ClientAnonRejectsRevokedCertificate) {
	auto r = client_run(server_peer("revoked"));
	EXPECT_TRUE(fails_with(r, EACCES, "revoked"));
}

TEST_F(HandshakeTest, ClientAnonAcceptsRevokedCertificateWithoutCrl) {
	// The control for the test above: the CRL is what rejects it.
	ConfigSpec spec = full_spec();
	spec.crl.clear();
	creds_ = make_credentials(spec);
	auto r = client_run(server_peer("revoked"));
	EXPECT_TRUE(r.result.ok()) << r.reason();
}

TEST_F(HandshakeTest, ClientAnonPeernameIpLiteralMatchesIpSan) {
	auto s = setup(Role::Client, Auth::Anonymous);
	s.peername = "127.0.0.1";
	auto r = run(std::move(s), unix_pair(), server_peer("server"));
	EXPECT_TRUE(r.result.ok()) << r.reason();

	auto s2 = setup(Role::Client, Auth::Anonymous);
	s2.peername = "127.0.0.1";
	auto r2 = run(std::move(s2), unix_pair(), server_peer("server-noip"));
	EXPECT_TRUE(fails_with(r2, EACCES));
}

TEST_F(HandshakeTest, ClientWithoutPeernameMatchesPeerAddressInIpSan) {
	auto s = setup(Role::Client, Auth::Anonymous);
	auto r = run(std::move(s), tcp_pair(), server_peer("server"));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.result.value(), Progress::Done);
}

TEST_F(HandshakeTest, ClientWithoutPeernameMatchesIpv6PeerAddress) {
	UniqueFd probe(socket(AF_INET6, SOCK_STREAM, 0));
	sockaddr_in6 a{};
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	if (!probe.valid() || bind(probe.get(), reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0)
		GTEST_SKIP() << "no IPv6 loopback here";
	auto s = setup(Role::Client, Auth::Anonymous);
	auto r = run(std::move(s), tcp_pair(true), server_peer("server"));
	EXPECT_TRUE(r.result.ok()) << r.reason();
}

TEST_F(HandshakeTest, ClientWithoutPeernameAcceptsAReverseDnsName) {
	auto s = setup(Role::Client, Auth::Anonymous);
	s.reverse_names = ReverseNames{{"elsewhere.test", "server.test"}, ""};
	auto r = run(std::move(s), tcp_pair(), server_peer("server-noip"));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.result.value(), Progress::Done);
	EXPECT_TRUE(r.session->traffic_secrets().ok());
	EXPECT_TRUE(log_.contains("resolves to server.test"));
}

TEST_F(HandshakeTest, ClientWithoutPeernameRejectsReverseDnsMismatch) {
	auto s = setup(Role::Client, Auth::Anonymous);
	s.reverse_names = ReverseNames{{"evil.test"}, ""};
	auto r = run(std::move(s), tcp_pair(), server_peer("server-noip"));
	EXPECT_TRUE(fails_with(r, EACCES, "evil.test"));
	EXPECT_NE(r.peer.ret, 0); // the server was told, in the handshake
}

TEST_F(HandshakeTest, ClientWithoutPeernameRejectsReverseDnsFailure) {
	auto s = setup(Role::Client, Auth::Anonymous);
	s.reverse_names = ReverseNames{{}, "NXDOMAIN"};
	auto r = run(std::move(s), tcp_pair(), server_peer("server-noip"));
	EXPECT_TRUE(fails_with(r, EACCES, "NXDOMAIN"));
}

TEST_F(HandshakeTest, ClientWithoutPeernameAndReverseDnsOffRejects) {
	auto s = setup(Role::Client, Auth::Anonymous); // reverse_names: nullopt
	auto r = run(std::move(s), tcp_pair(), server_peer("server-noip"));
	EXPECT_TRUE(fails_with(r, EACCES, "reverse DNS name matching is off"));
}

TEST_F(HandshakeTest, ClientCertificateIsNotSentBeforeTheServerNameIsChecked) {
	// The name check happens while verifying the server's certificate,
	// before the client's own Certificate goes out: a server that fails
	// it never sees who the client is.
	for (bool with_names : {false, true}) {
		auto s = setup(Role::Client, Auth::X509);
		if (with_names)
			s.reverse_names = ReverseNames{{"evil.test"}, ""};
		PeerOptions p = server_peer("server-noip");
		p.ca = "ca.pem";
		p.require_client_cert = true;
		auto r = run(std::move(s), tcp_pair(), p);
		EXPECT_TRUE(fails_with(r, EACCES));
		EXPECT_FALSE(r.peer.saw_client_certificate)
		        << "the client certificate went to a server whose name is unchecked";
	}
	// The control: with a matching name the server does get it.
	auto s = setup(Role::Client, Auth::X509);
	s.reverse_names = ReverseNames{{"server.test"}, ""};
	PeerOptions p = server_peer("server-noip");
	p.ca = "ca.pem";
	p.require_client_cert = true;
	auto r = run(std::move(s), tcp_pair(), p);
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_TRUE(r.peer.saw_client_certificate);
	EXPECT_EQ(r.peer.ret, 0) << r.peer.error;
}

TEST_F(HandshakeTest, ClientWithoutPeernameOnNonIpSocketRejects) {
	auto s = setup(Role::Client, Auth::Anonymous);
	auto r = run(std::move(s), unix_pair(), server_peer("server"));
	EXPECT_TRUE(fails_with(r, EACCES, "no IP address"));
}

// ---- client, x509 ----

TEST_F(HandshakeTest, ClientX509UsesKernelKeySerialsDer) {
	ConfigSpec spec = full_spec();
	spec.client_cert.clear(); // only the keyring can supply it
	creds_ = make_credentials(spec);
	auto cert = add_user_key("client cert", Pki::get().cert_der("client"));
	auto key = add_user_key("client key", Pki::get().key_der("client"));
	auto s = setup(Role::Client, Auth::X509);
	s.peername = "server.test";
	s.certificates = {{0, 0}, {cert, key}}; // repeated nests: the first usable one
	auto r = run(std::move(s), unix_pair(), verifying_server());
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.peer.ret, 0) << r.peer.error; // the server required and verified it
}

TEST_F(HandshakeTest, ClientX509FallsBackToConfiguredPem) {
	auto r = client_run(verifying_server(), Auth::X509);
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.peer.ret, 0) << r.peer.error;
}

TEST_F(HandshakeTest, ClientX509WithoutAnyCertificateIsEnokey) {
	ConfigSpec spec = full_spec();
	spec.client_cert.clear();
	creds_ = make_credentials(spec);
	auto r = client_run(verifying_server(), Auth::X509);
	EXPECT_TRUE(fails_with(r, ENOKEY));
}

TEST_F(HandshakeTest, ClientX509WithRevokedKeySerialIsEnokey) {
	auto cert = add_user_key("client cert", Pki::get().cert_der("client"));
	auto key = add_user_key("client key", Pki::get().key_der("client"));
	ASSERT_EQ(keyctl_revoke(key), 0);
	auto s = setup(Role::Client, Auth::X509);
	s.peername = "server.test";
	s.certificates = {{cert, key}};
	auto r = run(std::move(s), unix_pair(), verifying_server());
	EXPECT_TRUE(fails_with(r, ENOKEY));
}

TEST_F(HandshakeTest, ClientX509WithMismatchedKeyIsEnokey) {
	auto cert = add_user_key("client cert", Pki::get().cert_der("client"));
	auto key = add_user_key("server key", Pki::get().key_der("server"));
	auto s = setup(Role::Client, Auth::X509);
	s.peername = "server.test";
	s.certificates = {{cert, key}};
	auto r = run(std::move(s), unix_pair(), verifying_server());
	EXPECT_TRUE(fails_with(r, ENOKEY, "does not belong"));
}

TEST_F(HandshakeTest, ClientX509WithCertificateButNoKeyIsEinval) {
	auto cert = add_user_key("client cert", Pki::get().cert_der("client"));
	auto s = setup(Role::Client, Auth::X509);
	s.peername = "server.test";
	s.certificates = {{cert, 0}};
	auto r = run(std::move(s), unix_pair(), verifying_server());
	EXPECT_TRUE(fails_with(r, EINVAL));
}

TEST_F(HandshakeTest, ClientX509ServerRejectionArrivesAfterTheHandshake) {
	// TLS 1.3: the client is done once its Finished is out; a server that
	// then rejects the client certificate says so in an alert record,
	// which kTLS hands to the consumer (record type 21).
	PeerOptions p = verifying_server();
	p.ca = "rogue-ca.pem";
	auto r = client_run(p, Auth::X509, PeerAfter::KeepRunning);
	ASSERT_TRUE(r.result.ok()) << r.reason();
	auto out = r.running_peer->wait();
	EXPECT_NE(out.ret, 0);
	auto secrets = r.session->traffic_secrets();
	ASSERT_TRUE(secrets.ok());
	auto info = pack_crypto_info(secrets->cipher, secrets->rx);
	ASSERT_TRUE(info.ok());
	auto codec = RecordCodec::from_crypto_info(info->span());
	ASSERT_TRUE(codec.ok()) << codec.error().reason;
	auto rec = read_record(r.agent_fd.get());
	ASSERT_TRUE(rec.ok()) << rec.error().reason;
	auto opened = codec->open(*rec);
	ASSERT_TRUE(opened.ok()) << opened.error().reason;
	EXPECT_EQ(opened->first, 21); // alert
}

// ---- client, PSK ----

TEST_F(HandshakeTest, ClientPskSha256KeyNegotiatesSha256Suite) {
	auto key = random_bytes(32);
	auto id = add_user_key("nfs-client-1", key);
	auto r = psk_client_run({id}, psk_server("nfs-client-1", key));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.peer.ret, 0) << r.peer.error;
	EXPECT_NE(gnutls_cipher_get(r.session->gnutls()), GNUTLS_CIPHER_AES_256_GCM);
	auto ids = r.session->remote_identities();
	ASSERT_TRUE(ids.ok());
	EXPECT_EQ(*ids, std::vector<uint32_t>{static_cast<uint32_t>(id)});
}

#ifdef TLSUP_HAVE_PSK_CREDENTIALS2
TEST_F(HandshakeTest, ClientPskSha384KeyNegotiatesSha384Suite) {
	auto key = random_bytes(48);
	auto id = add_user_key("NVMe0R02 host subsys", key);
	auto r = psk_client_run({id}, psk_server("NVMe0R02 host subsys", key));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.peer.ret, 0) << r.peer.error;
	EXPECT_EQ(gnutls_cipher_get(r.session->gnutls()), GNUTLS_CIPHER_AES_256_GCM);
}
#else
TEST_F(HandshakeTest, ClientPskSha384KeyIsRefusedWithoutSha384Binders) {
	// GnuTLS < 3.8.1 computes every external PSK binder with SHA-256; a
	// 48-byte key would need SHA-384, so it is not offered at all.
	auto id = add_user_key("NVMe0R02 host subsys", random_bytes(48));
	auto r = psk_client_run({id}, psk_server("NVMe0R02 host subsys", {}));
	EXPECT_TRUE(fails_with(r, ENOKEY, "SHA-384"));
}

TEST_F(HandshakeTest, ClientPskSkipsSha384KeyForTheNextIdentity) {
	auto key = random_bytes(32);
	auto big = add_user_key("NVMe0R02 host subsys", random_bytes(48));
	auto good = add_user_key("NVMe0R01 host subsys", key);
	auto r = psk_client_run({big, good}, psk_server("NVMe0R01 host subsys", key));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.session->remote_identities().value(),
	          std::vector<uint32_t>{static_cast<uint32_t>(good)});
}

TEST_F(HandshakeTest, ServerPskSha384KeyIsRefusedWithoutSha384Binders) {
	add_user_key("client-48", random_bytes(48), psk_ring_);
	auto r = server_run(psk_client("client-48", random_bytes(48)), Auth::Psk);
	EXPECT_TRUE(fails_with(r, ENOKEY));
}
#endif

TEST_F(HandshakeTest, ClientPskSkipsUnusableIdentities) {
	auto key = random_bytes(32);
	auto gone = add_user_key("gone", random_bytes(32));
	ASSERT_EQ(keyctl_revoke(gone), 0);
	key_serial_t missing = 0x7ffffff0; // no such key
	auto good = add_user_key("good", key);
	auto r = psk_client_run({gone, missing, good}, psk_server("good", key));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.session->remote_identities().value(),
	          std::vector<uint32_t>{static_cast<uint32_t>(good)});
	EXPECT_TRUE(log_.contains("skipping PSK " + std::to_string(gone)));
}

TEST_F(HandshakeTest, ClientPskOffersOneIdentityInOneClientHello) {
	// Two usable identities; the server knows only the second. GnuTLS
	// offers one external PSK per ClientHello, and after the server's
	// fatal alert both sides must close (RFC 8446 §6.2): the first is
	// offered once, the request fails (the GnuTLS server answers an
	// unknown identity with a generic alert: EACCES), the log says the
	// second was not tried. (ktls-utils writes a second ClientHello onto
	// the same socket instead; see Documentation/agent.rst.)
	auto k1 = random_bytes(32), k2 = random_bytes(32);
	auto first = add_user_key("first-identity", k1);
	auto second = add_user_key("second-identity", k2);
	auto r = psk_client_run({first, second}, psk_server("second-identity", k2));
	EXPECT_TRUE(fails_with(r, EACCES));
	EXPECT_EQ(r.peer.client_hellos, 1);
	EXPECT_TRUE(log_.contains("1 later PSK identity is not offered"));
}

TEST_F(HandshakeTest, ClientPskWithoutUsableIdentityIsEnokey) {
	auto gone = add_user_key("gone", random_bytes(32));
	ASSERT_EQ(keyctl_revoke(gone), 0);
	auto r = psk_client_run({gone}, psk_server("gone", random_bytes(32)));
	EXPECT_TRUE(fails_with(r, ENOKEY));
}

TEST_F(HandshakeTest, ClientPskWrongKeyIsRejected) {
	auto id = add_user_key("nfs-client-1", random_bytes(32));
	auto r = psk_client_run({id}, psk_server("nfs-client-1", random_bytes(32)));
	EXPECT_TRUE(fails_with(r, EACCES));
	EXPECT_NE(r.peer.ret, 0);
}

TEST_F(HandshakeTest, ClientPskUnknownToServerIsRejected) {
	auto key = random_bytes(32);
	auto id = add_user_key("stranger", key);
	auto r = psk_client_run({id}, psk_server("someone-else", key));
	EXPECT_TRUE(fails_with(r, EACCES));
}

// Two engines, agent to agent, stepped in turn on one thread.
std::pair<Result<Progress>, Result<Progress>> drive_pair(TlsSession &a, TlsSession &b) {
	Result<Progress> ra = Progress::WantRead, rb = Progress::WantRead;
	auto busy = [](const Result<Progress> &r) {
		return r.ok() &&
		       (r.value() == Progress::WantRead || r.value() == Progress::WantWrite);
	};
	for (int i = 0; i < 1000 && (busy(ra) || busy(rb)); i++) {
		if (busy(ra))
			ra = a.step();
		if (busy(rb))
			rb = b.step();
	}
	return {std::move(ra), std::move(rb)};
}

TEST_F(HandshakeTest, UnknownPskIdentityIsEkeyrejectedOnBothSides) {
	// tlsupd as client and as server: the server does not know the
	// identity, says so with unknown_psk_identity, and the client reports
	// EKEYREJECTED too, as ktls-utils does.
	auto id = add_user_key("known-only-to-the-client", random_bytes(32));
	auto fds = unix_pair();
	auto c = setup(Role::Client, Auth::Psk);
	c.fd = fds.first.get();
	c.peer_identities = {id};
	auto sv = setup(Role::Server, Auth::Psk);
	sv.fd = fds.second.get();
	auto client = TlsSession::create(std::move(c), log_.log());
	auto server = TlsSession::create(std::move(sv), log_.log());
	ASSERT_TRUE(client.ok() && server.ok());
	ASSERT_EQ(keyctl_invalidate(id), 0); // gone before the server looks
	auto [rc, rs] = drive_pair(**client, **server);
	ASSERT_FALSE(rs.ok());
	EXPECT_EQ(rs.error().code, EKEYREJECTED) << rs.error().reason;
	ASSERT_FALSE(rc.ok());
	EXPECT_EQ(rc.error().code, EKEYREJECTED) << rc.error().reason;
}

TEST_F(HandshakeTest, AgentToAgentPskAndX509) {
	auto key = random_bytes(32);
	auto id = add_user_key("agent-to-agent", key, psk_ring_);
	{
		auto fds = unix_pair();
		auto c = setup(Role::Client, Auth::Psk);
		c.fd = fds.first.get();
		c.peer_identities = {id};
		auto sv = setup(Role::Server, Auth::Psk);
		sv.fd = fds.second.get();
		auto client = TlsSession::create(std::move(c), log_.log()).value();
		auto server = TlsSession::create(std::move(sv), log_.log()).value();
		auto [rc, rs] = drive_pair(*client, *server);
		ASSERT_TRUE(rc.ok() && rs.ok());
		EXPECT_EQ(rc.value(), Progress::Done);
		EXPECT_EQ(rs.value(), Progress::Done);
		EXPECT_EQ(server->remote_identities().value(),
		          std::vector<uint32_t>{static_cast<uint32_t>(id)});
		// Both ends agree on the keys: one's TX is the other's RX.
		auto a = client->traffic_secrets().value();
		auto b = server->traffic_secrets().value();
		EXPECT_EQ(a.cipher, b.cipher);
		EXPECT_TRUE(std::equal(a.tx.key.span().begin(), a.tx.key.span().end(),
		                       b.rx.key.span().begin(), b.rx.key.span().end()));
		EXPECT_TRUE(std::equal(a.rx.iv.span().begin(), a.rx.iv.span().end(),
		                       b.tx.iv.span().begin(), b.tx.iv.span().end()));
	}
	{
		auto fds = unix_pair();
		auto c = setup(Role::Client, Auth::X509);
		c.fd = fds.first.get();
		c.peername = "server.test";
		auto sv = setup(Role::Server, Auth::X509);
		sv.fd = fds.second.get();
		auto client = TlsSession::create(std::move(c), log_.log()).value();
		auto server = TlsSession::create(std::move(sv), log_.log()).value();
		auto [rc, rs] = drive_pair(*client, *server);
		ASSERT_TRUE(rc.ok()) << rc.error().reason;
		ASSERT_TRUE(rs.ok()) << rs.error().reason;
		auto sid = server->remote_identities().value();
		ASSERT_EQ(sid.size(), 1u);
		expect_certificate_key(static_cast<key_serial_t>(sid[0]),
		                       Pki::get().cert_der("client"));
	}
}

// ---- server, x509 ----

TEST_F(HandshakeTest, ServerX509ReturnsVerifiedClientCertAsKey) {
	key_serial_t ring = add_keyring("consumer ring", KEY_SPEC_SESSION_KEYRING);
	auto s = setup(Role::Server, Auth::X509);
	s.keyring = ring;
	auto r = run(std::move(s), unix_pair(), client_peer("client"));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.peer.ret, 0) << r.peer.error;
	auto ids = r.session->remote_identities();
	ASSERT_TRUE(ids.ok()) << ids.error().reason;
	ASSERT_EQ(ids->size(), 1u);
	EXPECT_NE(ids->front(), 0u);
	expect_certificate_key(static_cast<key_serial_t>(ids->front()),
	                       Pki::get().cert_der("client"));
	// In the agent's own keyring, never in the consumer's (where a PSK
	// lookup would see it), and it expires.
	std::string desc = key_description(ids->front()).value();
	EXPECT_LT(keyctl_search(ring, "user", desc.c_str(), 0), 0);
	EXPECT_LT(keyctl_search(ring, "asymmetric", desc.c_str(), 0), 0);
	long found = keyctl_search(peer_keys().keyring(), "user", desc.c_str(), 0);
	if (found < 0)
		found = keyctl_search(peer_keys().keyring(), "asymmetric", desc.c_str(), 0);
	EXPECT_EQ(found, static_cast<long>(ids->front()));
	EXPECT_NE(key_expiry(ids->front()), "perm");
	// The same certificate again: the same key.
	auto s2 = setup(Role::Server, Auth::X509);
	s2.keyring = ring;
	auto r2 = run(std::move(s2), unix_pair(), client_peer("client"));
	ASSERT_TRUE(r2.result.ok()) << r2.reason();
	EXPECT_EQ(r2.session->remote_identities().value(), ids.value());
}

TEST_F(HandshakeTest, ServerX509AcceptsClientWithoutCertificate) {
	auto r = server_run(client_peer(""));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_TRUE(r.session->remote_identities().value().empty());
}

TEST_F(HandshakeTest, ServerX509RejectsUntrustedClient) {
	auto r = server_run(client_peer("rogue-client"));
	EXPECT_TRUE(fails_with(r, EACCES));
}

TEST_F(HandshakeTest, ServerX509RejectsExpiredClient) {
	auto r = server_run(client_peer("client-expired"));
	EXPECT_TRUE(fails_with(r, EACCES, "expired"));
}

TEST_F(HandshakeTest, ServerX509RejectsRevokedClient) {
	auto r = server_run(client_peer("client-revoked"));
	EXPECT_TRUE(fails_with(r, EACCES, "revoked"));
}

TEST_F(HandshakeTest, ServerX509UsesKernelKeySerials) {
	ConfigSpec spec = full_spec();
	spec.server_cert.clear();
	creds_ = make_credentials(spec);
	auto cert = add_user_key("srv cert", Pki::get().cert_der("server"));
	auto key = add_user_key("srv key", Pki::get().key_der("server"));
	auto s = setup(Role::Server, Auth::X509);
	s.certificates = {{cert, key}};
	auto r = run(std::move(s), unix_pair(), client_peer("client"));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.peer.agent_cert_der, Pki::get().cert_der("server"));
}

TEST_F(HandshakeTest, ServerX509WithoutCertificateIsEnokey) {
	ConfigSpec spec = full_spec();
	spec.server_cert.clear();
	creds_ = make_credentials(spec);
	auto r = server_run(client_peer("client"));
	EXPECT_TRUE(fails_with(r, ENOKEY));
}

// ---- server, PSK ----

TEST_F(HandshakeTest, ServerPskFindsUserKeyInAPskKeyring) {
	auto key = random_bytes(32);
	auto id = add_user_key("client-7", key, psk_ring_);
	auto r = server_run(psk_client("client-7", key), Auth::Psk);
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.peer.ret, 0) << r.peer.error;
	EXPECT_EQ(r.session->remote_identities().value(),
	          std::vector<uint32_t>{static_cast<uint32_t>(id)});
}

TEST_F(HandshakeTest, ServerPskFindsPskKeysInRequestAndConfiguredKeyrings) {
	key_serial_t request = add_keyring("request ring", KEY_SPEC_SESSION_KEYRING);
	key_serial_t configured = add_keyring("configured ring", KEY_SPEC_SESSION_KEYRING);
	auto k1 = random_bytes(32), k2 = random_bytes(32);
	key_serial_t in_request = add_psk_key("client-8", k1, request);
	if (in_request < 0)
		GTEST_SKIP() << "this kernel has no \"psk\" key type (the NVMe keyring, 6.7+)";
	key_serial_t in_configured = add_psk_key("client-8b", k2, configured);
	auto s = setup(Role::Server, Auth::Psk);
	s.keyring = request;
	s.keyrings = {configured};
	auto r = run(std::move(s), unix_pair(), psk_client("client-8", k1));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.session->remote_identities().value(),
	          std::vector<uint32_t>{static_cast<uint32_t>(in_request)});
	auto s2 = setup(Role::Server, Auth::Psk);
	s2.keyrings = {configured};
	auto r2 = run(std::move(s2), unix_pair(), psk_client("client-8b", k2));
	ASSERT_TRUE(r2.result.ok()) << r2.reason();
	EXPECT_EQ(r2.session->remote_identities().value(),
	          std::vector<uint32_t>{static_cast<uint32_t>(in_configured)});
}

TEST_F(HandshakeTest, ServerPskIgnoresTheSessionKeyring) {
	// Whatever the agent's session keyring reaches (root's user keyring,
	// outside systemd) is no server PSK.
	auto key = random_bytes(32);
	add_user_key("client-7s", key);
	auto r = server_run(psk_client("client-7s", key), Auth::Psk);
	EXPECT_TRUE(fails_with(r, EKEYREJECTED));
}

TEST_F(HandshakeTest, ServerPskIgnoresAnotherRequestsKeyringInTheProcessKeyring) {
	// The kernel links each request's keyring into the agent's process
	// keyring. An NVMe host's keyring= (the key it offers, with a host NQN
	// of its choosing) lands there, and must not answer a target's peer:
	// the peer would authenticate with a key the target never had.
	ASSERT_TRUE(ensure_process_keyring().ok());
	key_serial_t ring = add_keyring("another request's", KEY_SPEC_PROCESS_KEYRING);
	auto key = random_bytes(32);
	add_user_key("client-8", key, ring);
	auto r = server_run(psk_client("client-8", key), Auth::Psk);
	EXPECT_TRUE(fails_with(r, EKEYREJECTED));
	keyctl_invalidate(ring);
}

TEST_F(HandshakeTest, ServerPskIgnoresUserKeysOutsideThePskKeyrings) {
	// The same "user" key is nothing in a configured or request keyring,
	// or in the process keyring, and a PSK where its keyring is named for
	// PSKs: as the request's keyring, or as a configured one.
	ASSERT_TRUE(ensure_process_keyring().ok());
	key_serial_t ring = add_keyring("not for PSKs", KEY_SPEC_PROCESS_KEYRING);
	auto key = random_bytes(32);
	auto id = add_user_key("client-9", key, ring);
	auto s = setup(Role::Server, Auth::Psk);
	s.keyring = ring;
	s.keyrings = {ring};
	s.psk_keyrings = {};
	auto r = run(std::move(s), unix_pair(), psk_client("client-9", key));
	EXPECT_TRUE(fails_with(r, EKEYREJECTED));
	// Named for PSKs but not searched for this request.
	auto s1 = setup(Role::Server, Auth::Psk);
	s1.psk_keyrings = {ring};
	auto r1 = run(std::move(s1), unix_pair(), psk_client("client-9", key));
	EXPECT_TRUE(fails_with(r1, EKEYREJECTED));
	for (bool as_request : {true, false}) {
		auto s2 = setup(Role::Server, Auth::Psk);
		s2.psk_keyrings = {ring};
		if (as_request)
			s2.keyring = ring;
		else
			s2.keyrings = {ring};
		auto r2 = run(std::move(s2), unix_pair(), psk_client("client-9", key));
		ASSERT_TRUE(r2.result.ok()) << r2.reason();
		EXPECT_EQ(r2.session->remote_identities().value(),
		          std::vector<uint32_t>{static_cast<uint32_t>(id)});
	}
	keyctl_invalidate(ring);
}

TEST_F(HandshakeTest, ServerPskPrefersIdentitiesTheKernelNamed) {
	auto key = random_bytes(32);
	auto other = add_user_key("client-10", random_bytes(32), psk_ring_);
	key_serial_t holder = add_keyring("holder", KEY_SPEC_SESSION_KEYRING);
	auto named = add_user_key("client-10", key, holder);
	auto s = setup(Role::Server, Auth::Psk);
	s.peer_identities = {named};
	auto r = run(std::move(s), unix_pair(), psk_client("client-10", key));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.session->remote_identities().value(),
	          std::vector<uint32_t>{static_cast<uint32_t>(named)});
	(void)other;
}

TEST_F(HandshakeTest, ServerPskRequestAsUpstreamSendsIt) {
	// The kernel sends PEER_IDENTITY 0 (TLS_NO_PEERID) for a server PSK.
	auto key = random_bytes(32);
	auto id = add_user_key("client-12", key, psk_ring_);
	AcceptReply req;
	req.sockfd = 0;
	req.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
	req.auth_mode = HANDSHAKE_AUTH_PSK;
	req.peer_identities = {0};
	ASSERT_TRUE(validate_request(req).ok());
	SessionSetup s = session_setup_for(req);
	EXPECT_TRUE(s.peer_identities.empty());
	s.credentials = creds_;
	s.priorities = prio_.get();
	s.keyrings = {psk_ring_};
	s.psk_keyrings = {psk_ring_};
	auto r = run(std::move(s), unix_pair(), psk_client("client-12", key));
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.session->remote_identities().value(),
	          std::vector<uint32_t>{static_cast<uint32_t>(id)});
}

TEST_F(HandshakeTest, ServerPskUnknownIdentityIsEkeyrejected) {
	auto r = server_run(psk_client("nobody", random_bytes(32)), Auth::Psk);
	EXPECT_TRUE(fails_with(r, EKEYREJECTED, "nobody"));
	EXPECT_EQ(r.peer.ret, GNUTLS_E_FATAL_ALERT_RECEIVED) << r.peer.error;
	EXPECT_NE(r.peer.error.find("PSK username is missing or not known"), std::string::npos)
	        << r.peer.error; // unknown_psk_identity
}

TEST_F(HandshakeTest, ServerPskWrongKeyIsEacces) {
	add_user_key("client-11", random_bytes(32), psk_ring_);
	auto r = server_run(psk_client("client-11", random_bytes(32)), Auth::Psk);
	EXPECT_TRUE(fails_with(r, EACCES));
}

// ---- failures common to every mode ----

TEST_F(HandshakeTest, ServerClosingMidHandshakeIsEtimedout) {
	PeerOptions p = server_peer("server");
	p.misbehave = PeerOptions::Misbehave::CloseAfterFirstMessage;
	auto r = client_run(p);
	EXPECT_TRUE(fails_with(r, ETIMEDOUT, "closed"));
}

TEST_F(HandshakeTest, ClientClosingMidHandshakeIsEtimedout) {
	PeerOptions p = client_peer("client");
	p.misbehave = PeerOptions::Misbehave::CloseAfterFirstMessage;
	auto r = server_run(p);
	EXPECT_TRUE(fails_with(r, ETIMEDOUT));
}

TEST_F(HandshakeTest, CloseNotifyInsteadOfServerHelloIsEacces) {
	// A peer that refuses by ending the session (close_notify, as GnuTLS
	// servers do with gnutls_bye) rejected us; it did not just vanish.
	auto fds = unix_pair();
	auto s = setup(Role::Client, Auth::Anonymous);
	s.peername = "server.test";
	s.fd = fds.first.get();
	auto session = TlsSession::create(std::move(s), log_.log());
	ASSERT_TRUE(session.ok());
	ASSERT_EQ(session.value()->step().value(), Progress::WantRead); // ClientHello out
	const uint8_t close_notify[] = {21, 3, 3, 0, 2, 1, 0};
	ASSERT_EQ(::send(fds.second.get(), close_notify, sizeof(close_notify), 0), 7);
	auto r = drive(**session, fds.first.get());
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, EACCES) << r.error().reason;
	EXPECT_NE(r.error().reason.find("close_notify"), std::string::npos) << r.error().reason;
}

TEST_F(HandshakeTest, PeerClosingBeforeAnythingIsEtimedout) {
	auto fds = unix_pair();
	fds.second.reset();
	auto s = setup(Role::Server, Auth::X509);
	s.fd = fds.first.get();
	auto session = TlsSession::create(std::move(s), log_.log());
	ASSERT_TRUE(session.ok());
	auto r = drive(**session, fds.first.get());
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, ETIMEDOUT) << r.error().reason;
}

TEST_F(HandshakeTest, Tls12OnlyPeerIsRejected) {
	PeerOptions p = server_peer("server");
	p.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2";
	auto r = client_run(p);
	EXPECT_TRUE(fails_with(r, EACCES));
}

TEST_F(HandshakeTest, PeerWithoutKtlsCipherIsRejected) {
	PeerOptions p = client_peer("client");
	// TLS 1.3's fifth suite, which kTLS does not implement.
	p.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-CCM-8";
	auto r = server_run(p);
	EXPECT_EQ(r.peer.error.find("bad priority"), std::string::npos) << r.peer.error;
	EXPECT_TRUE(fails_with(r, EACCES, "negotiation failed"));
}

TEST_F(HandshakeTest, NotASocketIsEinval) {
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	UniqueFd a(p[0]), b(p[1]);
	auto s = setup(Role::Client, Auth::Anonymous);
	s.fd = a.get();
	auto session = TlsSession::create(std::move(s), log_.log());
	ASSERT_FALSE(session.ok());
	EXPECT_EQ(session.error().code, EINVAL);
}

TEST_F(HandshakeTest, AnonymousServerIsEinval) {
	auto fds = unix_pair();
	auto s = setup(Role::Server, Auth::Anonymous);
	s.fd = fds.first.get();
	auto session = TlsSession::create(std::move(s), log_.log());
	ASSERT_FALSE(session.ok());
	EXPECT_EQ(session.error().code, EINVAL);
}

TEST(HandshakeErrors, EveryGnutlsFailureHasADoneStatus) {
	struct Case {
		int gnutls_error, io_errno, status;
	} cases[] = {
	        {GNUTLS_E_FATAL_ALERT_RECEIVED, 0, EACCES},
	        {GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR, 0, EACCES},
	        {GNUTLS_E_NO_CIPHER_SUITES, 0, EACCES},
	        {GNUTLS_E_UNSUPPORTED_VERSION_PACKET, 0, EACCES},
	        {GNUTLS_E_INSUFFICIENT_CREDENTIALS, 0, EACCES},
	        {GNUTLS_E_PREMATURE_TERMINATION, 0, ETIMEDOUT},
	        {GNUTLS_E_SESSION_EOF, 0, EACCES}, // close_notify mid-handshake
	        {GNUTLS_E_UNEXPECTED_PACKET_LENGTH, 0, ETIMEDOUT},
	        {GNUTLS_E_PULL_ERROR, ECONNRESET, ETIMEDOUT},
	        {GNUTLS_E_PUSH_ERROR, EPIPE, ETIMEDOUT},
	        {GNUTLS_E_PUSH_ERROR, ENOBUFS, EIO}, // not the peer's doing
	        {GNUTLS_E_MEMORY_ERROR, 0, ENOMEM},
	        {GNUTLS_E_INTERNAL_ERROR, 0, EIO},
	        {GNUTLS_E_UNEXPECTED_PACKET, 0, EIO},
	};
	for (const auto &c : cases) {
		Error e = classify_handshake_error(c.gnutls_error, c.io_errno,
		                                   GNUTLS_A_BAD_RECORD_MAC);
		EXPECT_EQ(e.code, c.status) << gnutls_strerror_name(c.gnutls_error);
		EXPECT_FALSE(e.reason.empty());
	}
	EXPECT_NE(classify_handshake_error(GNUTLS_E_FATAL_ALERT_RECEIVED, 0, GNUTLS_A_DECRYPT_ERROR)
	                  .reason.find("Decrypt error"),
	          std::string::npos);
	EXPECT_NE(classify_handshake_error(GNUTLS_E_PULL_ERROR, ECONNRESET).reason.find("reset"),
	          std::string::npos);
}

// ---- the no-over-read guarantee ----

// Reads the record the peer sent behind its Finished, as kTLS would, and
// answers through the engine's TX state; the peer must read the answer.
void exchange_after_handshake(EngineRun &r, const std::string &expect) {
	auto secrets = r.session->traffic_secrets();
	ASSERT_TRUE(secrets.ok()) << secrets.error().reason;
	auto rx_info = pack_crypto_info(secrets->cipher, secrets->rx);
	auto tx_info = pack_crypto_info(secrets->cipher, secrets->tx);
	ASSERT_TRUE(rx_info.ok() && tx_info.ok());
	auto rx = RecordCodec::from_crypto_info(rx_info->span());
	auto tx = RecordCodec::from_crypto_info(tx_info->span());
	ASSERT_TRUE(rx.ok() && tx.ok());
	auto rec = read_record(r.agent_fd.get());
	ASSERT_TRUE(rec.ok()) << rec.error().reason;
	auto opened = rx->open(*rec);
	ASSERT_TRUE(opened.ok()) << opened.error().reason;
	EXPECT_EQ(opened->first, 23);
	EXPECT_EQ(opened->second, expect);
	auto reply = tx->seal(23, "pong");
	ASSERT_EQ(::send(r.agent_fd.get(), reply.data(), reply.size(), 0),
	          static_cast<ssize_t>(reply.size()));
	auto out = r.running_peer->wait();
	EXPECT_EQ(out.received, "pong") << out.error << " " << out.receive_ret;
}

TEST_F(HandshakeTest, ServerNeverReadsClientDataSentWithFinished) {
	PeerOptions p = client_peer("client");
	p.data_after = "hello in the same flight";
	p.receive_after = 4;
	auto r = server_run(p, Auth::X509, PeerAfter::KeepRunning);
	ASSERT_TRUE(r.result.ok()) << r.reason();
	exchange_after_handshake(r, "hello in the same flight");
}

TEST_F(HandshakeTest, ClientNeverReadsServerDataSentWithFinished) {
	PeerOptions p = server_peer("server");
	p.data_after = "half-RTT data";
	p.receive_after = 4;
	auto r = client_run(p, Auth::Anonymous, PeerAfter::KeepRunning);
	ASSERT_TRUE(r.result.ok()) << r.reason();
	exchange_after_handshake(r, "half-RTT data");
}

TEST_F(HandshakeTest, NewSessionTicketIsLeftForTheConsumer) {
	PeerOptions p = server_peer("server");
	p.tickets = true;
	auto r = client_run(p, Auth::Anonymous, PeerAfter::KeepRunning);
	ASSERT_TRUE(r.result.ok()) << r.reason();
	auto secrets = r.session->traffic_secrets();
	ASSERT_TRUE(secrets.ok());
	auto info = pack_crypto_info(secrets->cipher, secrets->rx);
	auto rx = RecordCodec::from_crypto_info(info->span());
	ASSERT_TRUE(rx.ok());
	auto rec = read_record(r.agent_fd.get());
	ASSERT_TRUE(rec.ok()) << rec.error().reason;
	auto opened = rx->open(*rec);
	ASSERT_TRUE(opened.ok()) << opened.error().reason;
	EXPECT_EQ(opened->first, 22); // handshake: NewSessionTicket
	EXPECT_EQ(static_cast<uint8_t>(opened->second.at(0)), 4);
}

// ---- RFC 8449 record size limit ----

TEST_F(HandshakeTest, PeersRecordSizeLimitGoesToKtls) {
	PeerOptions p = server_peer("server");
	p.record_size_limit = 1024;
	auto r = client_run(p);
	ASSERT_TRUE(r.result.ok()) << r.reason();
	auto secrets = r.session->traffic_secrets();
	ASSERT_TRUE(secrets.ok());
	EXPECT_EQ(secrets->tx_max_payload, 1024u); // 1025 on the wire: + the content type
	// Without the extension's limit: nothing to set.
	auto r2 = client_run(server_peer("server"));
	ASSERT_TRUE(r2.result.ok()) << r2.reason();
	EXPECT_EQ(r2.session->traffic_secrets()->tx_max_payload, 0u);
}

TEST_F(HandshakeTest, AClientsRecordSizeLimitGoesToKtlsToo) {
	PeerOptions p = client_peer("client");
	p.record_size_limit = 2048;
	auto r = server_run(p);
	ASSERT_TRUE(r.result.ok()) << r.reason();
	EXPECT_EQ(r.session->traffic_secrets()->tx_max_payload, 2048u);
}

TEST(RecordSizeLimit, Tls13PayloadIsTheLimitLessTheContentType) {
	EXPECT_EQ(tls13_max_payload(1025), 1024u);
	EXPECT_EQ(tls13_max_payload(64), 63u);
	EXPECT_EQ(tls13_max_payload(16384), 16383u);
	EXPECT_FALSE(tls13_max_payload(16385)); // TLS's own: nothing to set
	EXPECT_FALSE(tls13_max_payload(63));    // below RFC 8449's minimum
	// An EncryptedExtensions body: extensions length, then type 28 = 0x0401.
	const unsigned char ee[] = {0, 6, 0, 28, 0, 2, 0x04, 0x01};
	gnutls_datum_t d{const_cast<unsigned char *>(ee), sizeof(ee)};
	EXPECT_EQ(parse_record_size_limit(d, false), 0x401u);
	const unsigned char bad[] = {0, 5, 0, 28, 0, 1, 4};
	gnutls_datum_t b{const_cast<unsigned char *>(bad), sizeof(bad)};
	EXPECT_FALSE(parse_record_size_limit(b, false));
	const unsigned char none[] = {0, 4, 0, 10, 0, 0};
	gnutls_datum_t n{const_cast<unsigned char *>(none), sizeof(none)};
	EXPECT_FALSE(parse_record_size_limit(n, false));
}

// ---- Nagle ----

int nodelay(int fd) {
	int v = -1;
	socklen_t len = sizeof(v);
	getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len);
	return v;
}

// Each flight fits the socket's buffer and leaves in one send: Nagle
// cannot hold it, and the consumer's setting is not touched.
TEST_F(HandshakeTest, NagleIsLeftAsTheConsumerSetItWhenEachFlightFits) {
	for (int original : {0, 1}) {
		auto fds = tcp_pair();
		ASSERT_EQ(setsockopt(fds.first.get(), IPPROTO_TCP, TCP_NODELAY, &original,
		                     sizeof(original)),
		          0);
		int fd = fds.first.get();
		auto s = setup(Role::Client, Auth::Anonymous);
		s.peername = "server.test";
		s.fd = fd;
		Peer peer(std::move(fds.second), server_peer("server"));
		auto session = TlsSession::create(std::move(s), log_.log());
		ASSERT_TRUE(session.ok()) << session.error().reason;
		EXPECT_EQ(nodelay(fd) != 0, original != 0);
		auto r = drive(**session, fd);
		ASSERT_TRUE(r.ok()) << r.error().reason;
		EXPECT_EQ(nodelay(fd) != 0, original != 0);
		session.value()->restore_nagle();
		EXPECT_EQ(nodelay(fd) != 0, original != 0);
		peer.wait();
		::close(fds.first.release());
	}
}

// A server flight of over 40 KB into a socket that takes a few KB at once
// (a small send buffer, a client that offers a small window and reads
// nothing yet) goes in pieces; a piece must not wait for the client's
// delayed ACK, so Nagle is off until the consumer's setting is restored.
TEST_F(HandshakeTest, NagleIsOffWhileAFlightGoesInPiecesAndRestored) {
	std::string big = big_certificate();
	ASSERT_FALSE(big.empty());
	ConfigSpec spec = full_spec();
	spec.server_cert = spec.server_key = big;
	creds_ = make_credentials(spec);
	// A real client's ClientHello, taken from a GnuTLS client.
	std::vector<uint8_t> hello;
	{
		auto cap = tcp_pair();
		PeerOptions p;
		p.server = false;
		p.ca = "ca.pem";
		p.verify_name = "server.test";
		Peer client(std::move(cap.second), p);
		auto r = read_record(cap.first.get());
		ASSERT_TRUE(r.ok()) << r.error().reason;
		hello = std::move(r).value();
		::shutdown(cap.first.get(), SHUT_RDWR);
		client.wait();
	}
	auto fds = tcp_pair(false, 2048);
	int fd = fds.first.get();
	int off = 0, small = 4096;
	ASSERT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &off, sizeof(off)), 0);
	ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	ASSERT_EQ(::send(fds.second.get(), hello.data(), hello.size(), 0),
	          static_cast<ssize_t>(hello.size()));
	auto s = setup(Role::Server, Auth::X509);
	s.fd = fd;
	auto session = TlsSession::create(std::move(s), log_.log());
	ASSERT_TRUE(session.ok()) << session.error().reason;
	EXPECT_EQ(nodelay(fd), 0);
	pollfd in{fd, POLLIN, 0};
	ASSERT_EQ(::poll(&in, 1, 5000), 1);
	auto r = session.value()->step();
	ASSERT_TRUE(r.ok()) << r.error().reason;
	ASSERT_EQ(*r, TlsSession::Progress::WantWrite) << "the flight fit the socket";
	EXPECT_EQ(nodelay(fd), 1) << "a piece of the flight waits with Nagle on";
	session.value()->restore_nagle();
	EXPECT_EQ(nodelay(fd), 0);
}

} // namespace
} // namespace tlsup::test
