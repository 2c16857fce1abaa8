// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: slow peers. tlsupd runs a bounded number of handshakes
// at once ([agent] max_inflight, 1024) and gives each a deadline (20 s by
// default). A peer that opens many connections to a TLS server consumer and
// then says nothing would hold every slot for the whole deadline, and every
// other client's handshake would wait in the kernel's queue behind them. So
// once half the slots are taken, a peer address (an IPv4 address, an IPv6
// /64) that holds [agent] max_inflight_per_peer handshakes already is
// refused at once: one peer never holds more than half.
#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <thread>

#include <uapi/linux/handshake.h>

#include "agent.hpp"
#include "fake_channel.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

// Connected TCP pairs over loopback whose client end is bound to FROM
// (127.0.0.0/8 is all loopback): (client, server) each.
std::vector<std::pair<UniqueFd, UniqueFd>> pairs_from(const char *from, size_t n) {
	UniqueFd lst(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (bind(lst.get(), reinterpret_cast<sockaddr *>(&a), len) < 0 ||
	    listen(lst.get(), 4096) < 0 ||
	    getsockname(lst.get(), reinterpret_cast<sockaddr *>(&a), &len) < 0)
		return {};
	std::vector<std::pair<UniqueFd, UniqueFd>> out;
	for (size_t i = 0; i < n; i++) {
		UniqueFd c(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_in src{};
		src.sin_family = AF_INET;
		inet_pton(AF_INET, from, &src.sin_addr);
		if (bind(c.get(), reinterpret_cast<sockaddr *>(&src), sizeof(src)) < 0 ||
		    connect(c.get(), reinterpret_cast<sockaddr *>(&a), len) < 0)
			return {};
		UniqueFd s(accept4(lst.get(), nullptr, nullptr, SOCK_CLOEXEC));
		if (!s.valid())
			return {};
		out.emplace_back(std::move(c), std::move(s));
	}
	return out;
}

// An agent with two workers, a fake kernel channel each and one for the
// acceptor, serving server x509 requests with the test PKI's server
// certificate.
struct SlowPeerAgent {
	explicit SlowPeerAgent(const std::string &extra = "") {
		char d[] = "/tmp/tlsup-attack-slow.XXXXXX";
		if (!mkdtemp(d))
			return;
		dir = d;
		const Pki &pki = Pki::get();
		std::ofstream(dir + "/tlsupd.conf")
		        << "[agent]\nworkers = 2\ncontrol_socket = " << dir << "/control\n"
		        << extra
		        << "\n[authenticate.server]\nx509.certificate = " << pki.path("server.pem")
		        << "\nx509.private_key = " << pki.path("server.key")
		        << "\nx509.truststore = " << pki.path("ca.pem") << "\n";
		AgentOptions o;
		o.config_path = dir + "/tlsupd.conf";
		o.consumer_keyrings = {};
		o.open_channel =
		        [this](bool notifications) -> Result<std::unique_ptr<HandshakeChannel>> {
			auto ch = std::make_unique<FakeChannel>(kernel);
			if (notifications)
				acceptor = ch.get();
			return std::unique_ptr<HandshakeChannel>(std::move(ch));
		};
		log.log().set_level(kLogNotice); // thousands of refusals are not the point
		auto a = Agent::create(o, log.log());
		if (!a) {
			why = a.error().reason;
			return;
		}
		agent = std::move(a).value();
		thread = std::thread([this] { EXPECT_TRUE(agent->run().ok()); });
		// The acceptor's start-up sweep: ACCEPT until the queue is empty.
		started = kernel.wait_eagains(1);
	}
	~SlowPeerAgent() {
		if (agent) {
			agent->stop();
			thread.join();
		}
		if (!dir.empty())
			std::filesystem::remove_all(dir);
	}
	// Queues a server x509 request for SERVER_END; returns its fd.
	int request(UniqueFd &server_end) {
		AcceptReply r;
		r.sockfd = server_end.release();
		r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
		r.auth_mode = HANDSHAKE_AUTH_X509;
		int fd = r.sockfd;
		kernel.submit(std::move(r));
		return fd;
	}
	// One READY per request queued, as the kernel sends them.
	void notify(unsigned requests) { acceptor->notify_ready(requests); }

	std::string dir, why;
	bool started = false;
	FakeKernel kernel;
	FakeChannel *acceptor = nullptr; // the channel READY goes to
	CaptureLog log;
	std::unique_ptr<Agent> agent;
	std::thread thread;
};

PeerOptions well_behaved_client() {
	PeerOptions p;
	p.server = false;
	p.ca = "ca.pem";
	p.verify_name = "server.test";
	return p;
}

TEST(AttackSlowPeers, ABurstFromOnePeerGoesThroughWhileThereIsRoom) {
	// A host bringing up many NVMe controllers at once: more handshakes
	// from one address than max_inflight_per_peer, all well-behaved, while
	// most slots are free. None is refused.
	constexpr size_t kBurst = 100;
	SlowPeerAgent a;
	ASSERT_TRUE(a.agent) << a.why;
	ASSERT_TRUE(a.started) << "no start-up sweep";
	auto pairs = pairs_from("127.0.0.1", kBurst);
	ASSERT_EQ(pairs.size(), kBurst);
	for (auto &p : pairs)
		a.request(p.second);
	a.notify(kBurst);
	// All of them in flight at once before any client says a word.
	for (int i = 0; i < 2000; i++) {
		{
			std::lock_guard lock(a.kernel.mu);
			if (a.kernel.accepts == kBurst)
				break;
		}
		std::this_thread::sleep_for(5ms);
	}
	{
		std::lock_guard lock(a.kernel.mu);
		ASSERT_EQ(a.kernel.accepts, kBurst);
		EXPECT_EQ(a.kernel.dones.size(), 0u) << "refused before the clients spoke";
	}
	std::vector<std::unique_ptr<Peer>> peers;
	for (auto &p : pairs)
		peers.push_back(std::make_unique<Peer>(std::move(p.first), well_behaved_client()));
	ASSERT_TRUE(a.kernel.wait_dones(kBurst, std::chrono::seconds(60)));
	for (const auto &done : a.kernel.done_copy())
		EXPECT_EQ(done.status, static_cast<uint32_t>(EIO))
		        << "fd " << done.sockfd; // kTLS absent
	for (auto &p : peers)
		p->wait();
}

TEST(AttackSlowPeers, TwoThousandStalledPeersDoNotDelayAWellBehavedHandshake) {
	constexpr size_t kStalled = 2000;
	rlimit nofile{};
	getrlimit(RLIMIT_NOFILE, &nofile);
	nofile.rlim_cur = nofile.rlim_max;
	setrlimit(RLIMIT_NOFILE, &nofile);
	if (nofile.rlim_cur < 3 * kStalled)
		GTEST_SKIP() << "RLIMIT_NOFILE " << nofile.rlim_cur << " is below " << 3 * kStalled;

	// A short deadline keeps the run short; what matters is the order.
	SlowPeerAgent a("default_timeout_ms = 5000");
	ASSERT_TRUE(a.agent) << a.why;
	ASSERT_TRUE(a.started) << "no start-up sweep";

	// The attacker: connections from 127.0.0.1 that never send a byte,
	// each a server handshake request queued before the good one.
	auto stalled = pairs_from("127.0.0.1", kStalled);
	ASSERT_EQ(stalled.size(), kStalled);
	auto good = pairs_from("127.0.0.2", 1);
	ASSERT_EQ(good.size(), 1u);
	for (auto &p : stalled)
		a.request(p.second);
	int good_fd = a.request(good[0].second);
	Peer peer(std::move(good[0].first), well_behaved_client());
	a.notify(kStalled + 1);

	// The well-behaved client's DONE, and what came before it.
	std::optional<DoneCommand> mine;
	size_t timed_out_before = 0, refused_before = 0;
	for (int i = 0; i < 3000 && !mine; i++) {
		a.kernel.wait_dones(a.kernel.done_copy().size() + 1, 10ms);
		for (const auto &done : a.kernel.done_copy()) {
			if (done.sockfd == good_fd) {
				mine = done;
				break;
			}
		}
	}
	ASSERT_TRUE(mine) << "no DONE for the well-behaved handshake in 30 s";
	for (const auto &done : a.kernel.done_copy()) {
		if (done.sockfd == good_fd)
			break;
		timed_out_before += done.status == ETIMEDOUT;
		refused_before += done.status == EACCES;
	}
	peer.wait();
	// EIO: the handshake succeeded and kTLS, absent here, failed.
	EXPECT_EQ(mine->status, static_cast<uint32_t>(EIO));
	// It did not wait for a single stalled handshake's deadline...
	EXPECT_EQ(timed_out_before, 0u);
	// ...because the stalled peer never held more than half the slots:
	// the rest of its requests were refused as they came.
	EXPECT_GE(refused_before, kStalled - (1024 / 2 + 3));
	{
		std::lock_guard lock(a.kernel.mu);
		EXPECT_LE(a.kernel.max_outstanding, 1024u / 2 + 3)
		        << "handshakes in flight at once";
	}
	EXPECT_TRUE(a.log.contains("peer 127.0.0.1 holds"))
	        << "the refusals are not logged: " << ::testing::PrintToString(a.log.lines());
}

} // namespace
} // namespace tlsup::test
