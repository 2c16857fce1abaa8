// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: the acceptor. A kernel consumer controls the request it
// queues, and so whether the kernel's ACCEPT for it fails: tlsup.ko's
// Handout links the consumer's keyring into the agent's process keyring,
// and a consumer that revoked (or let expire) its keyring makes that link,
// and so that one ACCEPT, fail (the kernel completes that request with
// -EIO; kernel/core/lifecycle.cpp). Upstream's ACCEPT fails the same way
// for one request when the agent's descriptor table is full. Either way
// the request is gone from the queue; the requests queued behind it, other
// consumers', must still be ACCEPTed without waiting for a READY that may
// never come.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <keyutils.h>
#include <thread>

#include <uapi/linux/handshake.h>

#include "engine_run.hpp"
#include "worker_rig.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

// One worker and the acceptor against a fake kernel (harness/worker_rig.hpp),
// and the hostile consumer.
class Harness : public WorkerRig {
public:
	// The hostile consumer's request: a server PSK request whose keyring
	// (NAME) is revoked before its ACCEPT links it, so that ACCEPT fails.
	void submit_failing(const std::string &name) {
		key_serial_t ring =
		        add_key("keyring", name.c_str(), nullptr, 0, KEY_SPEC_THREAD_KEYRING);
		ASSERT_GT(ring, 0);
		ASSERT_EQ(keyctl_revoke(ring), 0);
		auto bad = tcp_pair();
		kernel.submit(server_accept_reply(std::move(bad.first), HANDSHAKE_AUTH_PSK), ring,
		              true);
		peer_ends.push_back(std::move(bad.second));
	}

	std::vector<UniqueFd> peer_ends; // of the failing requests' sockets
};

TEST(AttackAcceptor, OneFailedAcceptDoesNotStrandTheRequestsQueuedBehindIt) {
	Harness h;
	FakeChannel *notify = h.start();
	ASSERT_TRUE(h.kernel.wait_eagains(1)); // the start-up ACCEPT
	ASSERT_NO_FATAL_FAILURE(h.submit_failing("attack-acceptor"));
	// Another consumer's client handshake, queued right behind it.
	auto peer = client_request(h.kernel).peer;
	// One READY each, read together (a burst: several consumers at once).
	notify->notify_ready(2);
	// No further READY: nothing else is queued, none will come.
	EXPECT_TRUE(h.kernel.wait_dones(1, 5s))
	        << "the request behind the failed ACCEPT was never accepted; the kernel "
	           "still holds "
	        <<
	        [&] {
		        std::lock_guard lock(h.kernel.mu);
		        return h.kernel.queue.size();
	        }()
	        << " request(s)";
	auto dones = h.kernel.done_copy();
	if (!dones.empty()) {
		EXPECT_EQ(dones[0].status, 0u);
	}
	peer->wait();
}

TEST(AttackAcceptor, ARunOfFailedAcceptsIsRetriedNotSpunAndStrandsNothing) {
	// Twenty hostile requests in a row, more than the acceptor fails in
	// one pass before it waits a little (an error that repeats must not
	// spin the loop): the request behind them is still accepted.
	Harness h;
	FakeChannel *notify = h.start();
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	constexpr int kBad = 20;
	for (int i = 0; i < kBad; i++)
		ASSERT_NO_FATAL_FAILURE(h.submit_failing("attack-acceptor-" + std::to_string(i)));
	auto peer = client_request(h.kernel).peer;
	notify->notify_ready(kBad + 1);
	ASSERT_TRUE(h.kernel.wait_dones(1, 10s)) << "stranded behind " << kBad << " failed ACCEPTs";
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	EXPECT_EQ(h.stats.snapshot().accept_errors, static_cast<uint64_t>(kBad));
	peer->wait();
}

// A peer whose Certificate message is larger than one record (16 KiB: a
// long chain, post-quantum certificates, a certificate with large
// extensions), all of it in the socket when the agent first looks. GnuTLS
// returns GNUTLS_E_AGAIN after each record of a message it has not got
// whole, though its transport never said EAGAIN; the agent runs on an
// edge-triggered loop, and what it leaves unread no new edge announces.
// big_certificate() (test_support) is such a peer's certificate.

TEST(AttackPeerFlight, AHandshakeMessageLargerThanARecordCompletes) {
	std::string cert = big_certificate();
	ASSERT_FALSE(cert.empty());
	ASSERT_GT(std::filesystem::file_size(Pki::get().path(cert + ".pem")), 50000u);
	Harness h;
	FakeChannel *notify = h.start();
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	PeerOptions p;
	p.cert = p.key = cert;
	auto peer = client_request(h.kernel, p, 5000).peer;
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1, 15s));
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u)
	        << "status " << h.kernel.done_copy()[0].status
	        << " (110: ETIMEDOUT, the rest of the flight unread)\n"
	        << ::testing::PrintToString(h.log.lines());
	auto out = peer->wait();
	EXPECT_EQ(out.ret, 0) << out.error;
}

// The same from a network client to a server consumer (x509.client_auth):
// its Certificate message spans records, before anything is verified.
TEST(AttackPeerFlight, AClientCertificateLargerThanARecordCompletes) {
	std::string cert = big_certificate();
	ASSERT_FALSE(cert.empty());
	Harness h;
	FakeChannel *notify = h.start();
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto pair = tcp_pair();
	h.kernel.submit(server_accept_reply(std::move(pair.second), HANDSHAKE_AUTH_X509, 5000));
	Peer peer(std::move(pair.first), client_peer(cert));
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1, 15s));
	// Accepted or refused (its certificate is a server's), not left unread.
	EXPECT_NE(h.kernel.done_copy()[0].status, static_cast<uint32_t>(ETIMEDOUT))
	        << ::testing::PrintToString(h.log.lines());
	peer.wait();
}

} // namespace
} // namespace tlsup::test
