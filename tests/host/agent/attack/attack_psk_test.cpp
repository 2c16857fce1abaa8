// SPDX-License-Identifier: GPL-2.0
//
// The attacker's view of a tlsupd PSK server: a client that knows no
// secret tries to authenticate with material that is public or that it
// chose itself. Every case runs through the real handshake engine against
// a GnuTLS client and must end in a refusal.
#include <gnutls/crypto.h>
#include <gtest/gtest.h>
#include <keyutils.h>

#include <uapi/linux/handshake.h>

#include "engine_run.hpp"
#include "keyring.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using Progress = TlsSession::Progress;

// The name tlsupd gave stored peer certificates: anyone holding the
// (public) certificate can compute it.
std::string predictable_name(const std::vector<uint8_t> &der) {
	uint8_t d[32];
	gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data(), der.size(), d);
	std::string s = "tlsupd:x509:sha256:";
	static constexpr char hex[] = "0123456789abcdef";
	for (uint8_t b : d) {
		s += hex[b >> 4];
		s += hex[b & 15];
	}
	return s;
}

class PskAttack : public ::testing::Test {
protected:
	void SetUp() override {
		prio_ = Priorities::create().value();
		ConfigSpec spec;
		spec.server_cert = spec.server_key = "server";
		spec.client_cert = spec.client_key = "client";
		creds_ = make_credentials(spec);
	}

	SessionSetup setup(Role role, Auth auth) {
		return engine_setup(role, auth, creds_, *prio_);
	}

	// One handshake of the engine against a GnuTLS peer: the engine's
	// result and the peer's; KEEP: the session, if it finished.
	std::pair<Result<Progress>, PeerOutcome> run(SessionSetup s, PeerOptions peer,
	                                             std::unique_ptr<TlsSession> *keep = nullptr) {
		auto r = run_engine(std::move(s), unix_pair(), std::move(peer), log_.log());
		if (r.result && keep)
			*keep = std::move(r.session);
		return {std::move(r.result), r.peer};
	}

	// A server mTLS handshake whose verified client certificate the
	// agent stores; returns the key serial it reported in REMOTE_AUTH.
	key_serial_t store_client_certificate(key_serial_t request_keyring) {
		auto s = setup(Role::Server, Auth::X509);
		s.keyring = request_keyring;
		std::unique_ptr<TlsSession> session;
		auto [r, peer] = run(std::move(s), client_peer("client"), &session);
		EXPECT_TRUE(r.ok()) << (r ? "" : r.error().reason);
		if (!session)
			return 0;
		auto ids = session->remote_identities();
		EXPECT_TRUE(ids.ok() && ids->size() == 1);
		return ids && !ids->empty() ? static_cast<key_serial_t>(ids->front()) : 0;
	}

	std::unique_ptr<Priorities> prio_;
	std::shared_ptr<const Credentials> creds_;
	CaptureLog log_;
};

void expect_refused(const Result<Progress> &r, const PeerOutcome &peer) {
	ASSERT_FALSE(r.ok()) << "the attacker authenticated";
	EXPECT_TRUE(r.error().code == EKEYREJECTED || r.error().code == EACCES)
	        << r.error().code << " " << r.error().reason;
	EXPECT_NE(peer.ret, 0) << "the attacker's handshake completed";
}

TEST_F(PskAttack, StoredPeerCertificateInTheRequestKeyringIsNoPsk) {
	// The consumer's keyring: where a server x509 request stored the
	// verified client certificate, and where the next PSK request of the
	// same consumer looks.
	key_serial_t ring = add_keyring("consumer ring", KEY_SPEC_SESSION_KEYRING);
	ASSERT_GT(store_client_certificate(ring), 0);
	auto der = Pki::get().cert_der("client");
	auto s = setup(Role::Server, Auth::Psk);
	s.keyring = ring;
	auto [r, peer] = run(std::move(s), psk_client(predictable_name(der), der));
	expect_refused(r, peer);
	keyctl_invalidate(ring);
}

TEST_F(PskAttack, StoredPeerCertificateWithoutRequestKeyringIsNoPsk) {
	// No KEYRING (upstream 6.12): the certificate went to the process
	// keyring, which the PSK search read too.
	ASSERT_TRUE(ensure_process_keyring().ok());
	ASSERT_GT(store_client_certificate(0), 0);
	auto der = Pki::get().cert_der("client");
	auto s = setup(Role::Server, Auth::Psk);
	auto [r, peer] = run(std::move(s), psk_client(predictable_name(der), der));
	expect_refused(r, peer);
}

TEST_F(PskAttack, UserKeyInTheRequestKeyringIsNoPsk) {
	// Anything else of type "user" a consumer keeps (a certificate by
	// serial, a public value) is not a PSK: only "psk" keys are, or user
	// keys in a keyring the administrator names for PSKs.
	key_serial_t ring = add_keyring("consumer ring 2", KEY_SPEC_SESSION_KEYRING);
	auto public_value = random_bytes(32);
	add_user_key("consumer-public-value", public_value, ring);
	auto s = setup(Role::Server, Auth::Psk);
	s.keyring = ring;
	auto [r, peer] = run(std::move(s), psk_client("consumer-public-value", public_value));
	expect_refused(r, peer);
	keyctl_invalidate(ring);
}

TEST_F(PskAttack, SessionKeyringIsNotSearched) {
	auto key = random_bytes(32);
	add_user_key("left-in-the-session-keyring", key);
	auto s = setup(Role::Server, Auth::Psk);
	auto [r, peer] = run(std::move(s), psk_client("left-in-the-session-keyring", key));
	expect_refused(r, peer);
}

TEST_F(PskAttack, StoredPeerCertificateInAPskKeyringIsNoPsk) {
	// Even where "user" keys are PSKs: the agent keeps certificates in a
	// keyring of its own, and refuses identities in its own naming.
	key_serial_t ring = add_keyring("consumer psk ring", KEY_SPEC_SESSION_KEYRING);
	ASSERT_GT(store_client_certificate(ring), 0);
	auto der = Pki::get().cert_der("client");
	auto s = setup(Role::Server, Auth::Psk);
	s.keyring = ring;
	// An administrator's mistake: the agent's keyring configured for PSKs.
	s.keyrings = {peer_keys().keyring()};
	s.psk_keyrings = {ring, peer_keys().keyring()};
	auto [r, peer] = run(std::move(s), psk_client(predictable_name(der), der));
	expect_refused(r, peer);
	EXPECT_NE(r.error().reason.find("tlsupd names its own keys"), std::string::npos)
	        << r.error().reason;
	keyctl_invalidate(ring);
}

TEST_F(PskAttack, IdentityInTheAgentsNamingIsRefused) {
	key_serial_t ring = add_keyring("psk ring", KEY_SPEC_SESSION_KEYRING);
	auto key = random_bytes(32);
	add_user_key("tlsupd:x509:sha256:00", key, ring);
	auto s = setup(Role::Server, Auth::Psk);
	s.keyrings = s.psk_keyrings = {ring};
	auto [r, peer] = run(std::move(s), psk_client("tlsupd:x509:sha256:00", key));
	expect_refused(r, peer);
	EXPECT_EQ(r.error().code, EKEYREJECTED);
	keyctl_invalidate(ring);
}

TEST_F(PskAttack, KeyOfTheWrongSizeIsNoPsk) {
	// A PSK has 32 or 48 bytes; anything else in a PSK keyring (a
	// password, a certificate) is not one.
	key_serial_t ring = add_keyring("psk ring 2", KEY_SPEC_SESSION_KEYRING);
	for (size_t n : {1u, 16u, 31u, 33u, 47u, 64u}) {
		auto key = random_bytes(n);
		std::string name = "short-or-long-" + std::to_string(n);
		add_user_key(name, key, ring);
		auto s = setup(Role::Server, Auth::Psk);
		s.keyrings = s.psk_keyrings = {ring};
		auto [r, peer] = run(std::move(s), psk_client(name, key));
		expect_refused(r, peer);
		if (!r) {
			EXPECT_NE(r.error().reason.find("is no PSK"), std::string::npos)
			        << r.error().reason;
		}
	}
	keyctl_invalidate(ring);
}

TEST_F(PskAttack, TheControlCaseAuthenticates) {
	// The same client with a real PSK where the administrator put it: the
	// refusals above are about the key, not about the client.
	key_serial_t ring = add_keyring("psk ring 3", KEY_SPEC_SESSION_KEYRING);
	auto key = random_bytes(32);
	auto id = add_user_key("provisioned", key, ring);
	auto s = setup(Role::Server, Auth::Psk);
	s.keyrings = s.psk_keyrings = {ring};
	std::unique_ptr<TlsSession> session;
	auto [r, peer] = run(std::move(s), psk_client("provisioned", key), &session);
	ASSERT_TRUE(r.ok()) << r.error().reason;
	EXPECT_EQ(peer.ret, 0) << peer.error;
	EXPECT_EQ(session->remote_identities().value(),
	          std::vector<uint32_t>{static_cast<uint32_t>(id)});
	keyctl_invalidate(ring);
}

} // namespace
} // namespace tlsup::test
