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

#include "acceptor.hpp"
#include "fake_channel.hpp"
#include "keyring.hpp"
#include "keyring_linker.hpp"
#include "test_support.hpp"
#include "worker.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

// One worker and the acceptor against a fake kernel (as worker_test.cpp).
class Harness {
public:
	Harness()
	    : admission(64),
	      resolver(std::make_unique<ReverseResolver>(1, ReverseResolver::system_lookup)),
	      accept_keyrings(AcceptKeyrings::create(log.log(), false).value()),
	      shared{log.log(), creds,    keyrings,    admission,       stats,
	             *resolver, settings, peer_keys(), *accept_keyrings} {
		EXPECT_TRUE(ensure_process_keyring().ok());
		ConfigSpec spec;
		spec.server_cert = spec.server_key = "server";
		creds.replace(make_credentials(spec));
		shared.install = [](int, const TrafficSecrets &) -> Result<void> { return {}; };
	}
	~Harness() {
		if (acceptor)
			acceptor->stop();
		for (auto &w : workers)
			w->stop();
		acceptor.reset();
		resolver.reset();
		workers.clear();
	}
	FakeChannel *start() {
		auto w = Worker::create(0, shared, std::make_unique<FakeChannel>(kernel));
		EXPECT_TRUE(w.ok());
		workers.push_back(std::move(w).value());
		auto ch = std::make_unique<FakeChannel>(kernel);
		FakeChannel *notify = ch.get();
		auto a = Acceptor::create(shared, std::move(ch), {workers.back().get()});
		EXPECT_TRUE(a.ok());
		acceptor = std::move(a).value();
		workers.back()->start();
		acceptor->start();
		return notify;
	}

	// The hostile consumer's request: a server PSK request whose keyring
	// (NAME) is revoked before its ACCEPT links it, so that ACCEPT fails.
	void submit_failing(const std::string &name) {
		key_serial_t ring =
		        add_key("keyring", name.c_str(), nullptr, 0, KEY_SPEC_THREAD_KEYRING);
		ASSERT_GT(ring, 0);
		ASSERT_EQ(keyctl_revoke(ring), 0);
		auto bad = tcp_pair();
		AcceptReply r;
		r.sockfd = bad.first.release();
		r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
		r.auth_mode = HANDSHAKE_AUTH_PSK;
		kernel.submit(std::move(r), ring, true);
		peer_ends.push_back(std::move(bad.second));
	}

	CaptureLog log;
	CredentialStore creds;
	KeyringStore keyrings;
	Admission admission;
	Stats stats;
	std::unique_ptr<ReverseResolver> resolver;
	WorkerSettings settings;
	std::unique_ptr<AcceptKeyrings> accept_keyrings;
	WorkerShared shared;
	FakeKernel kernel;
	std::vector<std::unique_ptr<Worker>> workers;
	std::unique_ptr<Acceptor> acceptor;
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
std::string big_certificate() {
	const Pki &pki = Pki::get();
	std::string name = "big-flight";
	std::string pem = pki.path(name + ".pem");
	if (std::filesystem::exists(pem))
		return name;
	std::string tmpl = pki.path(name + ".tmpl");
	{
		std::ofstream t(tmpl);
		// 40000 bytes of a private, non-critical extension.
		t << "cn = \"server.test\"\ndns_name = \"server.test\"\n"
		  << "add_extension = \"1.3.6.1.4.1.99999.1 0x" << std::string(80000, '0')
		  << "\"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 30\n";
	}
	std::filesystem::copy_file(pki.path("server.key"), pki.path(name + ".key"));
	std::string cmd = "certtool --generate-certificate --load-privkey " +
	                  pki.path("server.key") + " --load-ca-certificate " + pki.path("ca.pem") +
	                  " --load-ca-privkey " + pki.path("ca.key") + " --template " + tmpl +
	                  " --outfile " + pem + " >/dev/null 2>&1";
	if (std::system(cmd.c_str()) != 0)
		return {};
	return name;
}

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
	AcceptReply r;
	r.sockfd = pair.second.release();
	r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
	r.auth_mode = HANDSHAKE_AUTH_X509;
	r.timeout_ms = 5000;
	h.kernel.submit(std::move(r));
	PeerOptions p;
	p.server = false;
	p.cert = p.key = cert;
	p.ca = "ca.pem";
	p.verify_name = "server.test";
	Peer peer(std::move(pair.first), p);
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1, 15s));
	// Accepted or refused (its certificate is a server's), not left unread.
	EXPECT_NE(h.kernel.done_copy()[0].status, static_cast<uint32_t>(ETIMEDOUT))
	        << ::testing::PrintToString(h.log.lines());
	peer.wait();
}

} // namespace
} // namespace tlsup::test
