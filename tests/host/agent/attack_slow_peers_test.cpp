// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: slow peers. tlsupd runs a bounded number of handshakes
// at once ([agent] max_inflight, 1024) and gives each a deadline (20 s by
// default). A peer that opens many connections to a TLS server consumer and
// then says nothing would hold every slot for the whole deadline, and every
// other client's handshake would wait in the kernel's queue behind them. So
// one peer address (an IPv4 address, an IPv6 /64) holds at most
// [agent] max_inflight_per_peer handshakes; its others are refused at once.
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

TEST(AttackSlowPeers, TwoThousandStalledPeersDoNotDelayAWellBehavedHandshake) {
	constexpr size_t kStalled = 2000;
	rlimit nofile{};
	getrlimit(RLIMIT_NOFILE, &nofile);
	nofile.rlim_cur = nofile.rlim_max;
	setrlimit(RLIMIT_NOFILE, &nofile);
	if (nofile.rlim_cur < 3 * kStalled)
		GTEST_SKIP() << "RLIMIT_NOFILE " << nofile.rlim_cur << " is below " << 3 * kStalled;

	char d[] = "/tmp/tlsup-attack-slow.XXXXXX";
	ASSERT_TRUE(mkdtemp(d));
	std::string dir = d;
	const Pki &pki = Pki::get();
	// A short deadline keeps the run short; what matters is the order.
	std::ofstream(dir + "/tlsupd.conf")
	        << "[agent]\nworkers = 2\ndefault_timeout_ms = 5000\ncontrol_socket = " << dir
	        << "/control\n[authenticate.server]\nx509.certificate = " << pki.path("server.pem")
	        << "\nx509.private_key = " << pki.path("server.key")
	        << "\nx509.truststore = " << pki.path("ca.pem") << "\n";
	FakeKernel kernel;
	std::vector<FakeChannel *> channels;
	AgentOptions o;
	o.config_path = dir + "/tlsupd.conf";
	o.consumer_keyrings = {};
	o.open_channel = [&]() -> Result<std::unique_ptr<HandshakeChannel>> {
		auto ch = std::make_unique<FakeChannel>(kernel);
		channels.push_back(ch.get());
		return std::unique_ptr<HandshakeChannel>(std::move(ch));
	};
	CaptureLog log;
	log.log().set_level(kLogNotice); // two thousand refusals are not the point
	auto agent = Agent::create(o, log.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	ASSERT_TRUE(kernel.wait_eagains(2));

	// The attacker: connections from 127.0.0.1 that never send a byte,
	// each a server handshake request queued before the good one.
	auto stalled = pairs_from("127.0.0.1", kStalled);
	ASSERT_EQ(stalled.size(), kStalled);
	auto good = pairs_from("127.0.0.2", 1);
	ASSERT_EQ(good.size(), 1u);
	auto request = [&](UniqueFd &server_end) {
		AcceptReply r;
		r.sockfd = server_end.release();
		r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
		r.auth_mode = HANDSHAKE_AUTH_X509;
		kernel.submit(std::move(r));
		return r.sockfd;
	};
	for (auto &p : stalled)
		request(p.second);
	int good_fd = request(good[0].second);
	PeerOptions p;
	p.server = false;
	p.ca = "ca.pem";
	p.verify_name = "server.test";
	Peer peer(std::move(good[0].first), p);
	for (auto *ch : channels)
		ch->notify_ready();

	// The well-behaved client's DONE, and what came before it.
	std::optional<DoneCommand> mine;
	size_t timed_out_before = 0, refused_before = 0;
	for (int i = 0; i < 3000 && !mine; i++) {
		kernel.wait_dones(kernel.done_copy().size() + 1, 10ms);
		for (const auto &done : kernel.done_copy()) {
			if (done.sockfd == good_fd) {
				mine = done;
				break;
			}
		}
	}
	ASSERT_TRUE(mine) << "no DONE for the well-behaved handshake in 30 s";
	for (const auto &done : kernel.done_copy()) {
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
	// ...because the stalled peer never held more than its share: the
	// rest of its requests were refused as they came.
	EXPECT_GE(refused_before, kStalled - 64);
	{
		std::lock_guard lock(kernel.mu);
		EXPECT_LE(kernel.max_outstanding, 64u + 3) << "handshakes in flight at once";
	}
	EXPECT_TRUE(log.contains("127.0.0.1"))
	        << "the refusals are not logged: " << ::testing::PrintToString(log.lines());
	agent.value()->stop();
	t.join();
	std::filesystem::remove_all(dir);
}

} // namespace
} // namespace tlsup::test
