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
#include <gtest/gtest.h>
#include <keyutils.h>
#include <thread>

#include <uapi/linux/handshake.h>

#include "acceptor.hpp"
#include "fake_channel.hpp"
#include "keyring.hpp"
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
};

TEST(AttackAcceptor, OneFailedAcceptDoesNotStrandTheRequestsQueuedBehindIt) {
	Harness h;
	FakeChannel *notify = h.start();
	ASSERT_TRUE(h.kernel.wait_eagains(1)); // the start-up ACCEPT
	// The hostile consumer: its keyring, revoked before the ACCEPT links
	// it, so that ACCEPT fails.
	key_serial_t ring =
	        add_key("keyring", "attack-acceptor", nullptr, 0, KEY_SPEC_THREAD_KEYRING);
	ASSERT_GT(ring, 0);
	ASSERT_EQ(keyctl_revoke(ring), 0);
	auto bad = tcp_pair();
	AcceptReply r;
	r.sockfd = bad.first.release();
	r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
	r.auth_mode = HANDSHAKE_AUTH_PSK;
	h.kernel.submit(std::move(r), ring, true);
	// Another consumer's client handshake, queued right behind it.
	auto fds = tcp_pair();
	AcceptReply good;
	good.sockfd = fds.first.release();
	good.message_type = HANDSHAKE_MSG_TYPE_CLIENTHELLO;
	good.auth_mode = HANDSHAKE_AUTH_UNAUTH;
	good.peername = "server.test";
	h.kernel.submit(std::move(good));
	PeerOptions p;
	p.cert = p.key = "server";
	Peer peer(std::move(fds.second), p);
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
	peer.wait();
}

} // namespace
} // namespace tlsup::test
