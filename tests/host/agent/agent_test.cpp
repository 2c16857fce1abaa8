// SPDX-License-Identifier: GPL-2.0
//
// The agent as a whole with fake kernel channels: start-up checks, the
// control socket, reload by command and by SIGHUP, and a handshake end to
// end through a worker.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <thread>

#include <uapi/linux/handshake.h>

#include "agent.hpp"
#include "fake_channel.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

class AgentTest : public ::testing::Test {
protected:
	void SetUp() override {
		char d[] = "/tmp/tlsupd-agent.XXXXXX";
		ASSERT_TRUE(mkdtemp(d));
		dir_ = d;
		conf_ = dir_ + "/tlsupd.conf";
		sock_ = dir_ + "/run/control";
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }

	void write_conf(const std::string &agent_extra) {
		const Pki &pki = Pki::get();
		std::ofstream(conf_) << "[agent]\nworkers = 2\ncontrol_socket = " << sock_ << "\n"
		                     << agent_extra << "\n[authenticate.client]\nx509.truststore = "
		                     << pki.path("ca.pem") << "\n[authenticate.server]\n"
		                     << "x509.certificate = " << pki.path("server.pem") << "\n"
		                     << "x509.private_key = " << pki.path("server.key") << "\n";
	}

	AgentOptions options() {
		AgentOptions o;
		o.config_path = conf_;
		o.open_channel = [this]() -> Result<std::unique_ptr<HandshakeChannel>> {
			auto ch = std::make_unique<FakeChannel>(kernel_);
			channels_.push_back(ch.get());
			return std::unique_ptr<HandshakeChannel>(std::move(ch));
		};
		return o;
	}

	std::map<std::string, std::string> status() {
		auto r = control_request(sock_, "status");
		EXPECT_TRUE(r.ok()) << (r ? "" : r.error().reason);
		return r ? parse_status(*r) : std::map<std::string, std::string>{};
	}

	std::string dir_, conf_, sock_;
	FakeKernel kernel_;
	std::vector<FakeChannel *> channels_;
	CaptureLog log_;
};

TEST_F(AgentTest, ServesStatusReloadsAndRunsHandshakes) {
	write_conf("max_inflight = 8");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });

	// The configuration sets no server trust store: said at warning level.
	bool warned = false;
	for (const auto &line : log_.lines())
		warned |= line.rfind("<4>", 0) == 0 &&
		          line.find("[authenticate.server] x509.truststore: not set") !=
		                  std::string::npos;
	EXPECT_TRUE(warned);
	auto s = status();
	EXPECT_EQ(s["workers"], "2");
	EXPECT_EQ(s["max_inflight"], "8");
	EXPECT_EQ(s["config"], conf_);
	EXPECT_EQ(channels_.size(), 2u);

	// A handshake through a worker.
	auto fds = tcp_pair();
	HandshakeRequest r;
	r.sockfd = fds.first.release();
	r.message_type = HANDSHAKE_MSG_TYPE_CLIENTHELLO;
	r.auth_mode = HANDSHAKE_AUTH_UNAUTH;
	r.peername = "server.test";
	kernel_.submit(std::move(r));
	PeerOptions p;
	p.cert = p.key = "server";
	Peer peer(std::move(fds.second), p);
	channels_[1]->notify_ready();
	ASSERT_TRUE(kernel_.wait_dones(1));
	// A unix socket cannot take kTLS: the real installer reports EIO.
	EXPECT_EQ(kernel_.done_copy()[0].status, static_cast<uint32_t>(EIO));
	EXPECT_EQ(status()["done.EIO"], "1");

	// Reload by command.
	write_conf("max_inflight = 16");
	auto ok = control_request(sock_, "reload");
	ASSERT_TRUE(ok.ok());
	EXPECT_EQ(*ok, "ok\n");
	EXPECT_EQ(status()["max_inflight"], "16");

	// A broken file is refused and the running configuration stays.
	write_conf("max_inflight = lots");
	auto bad = control_request(sock_, "reload");
	ASSERT_TRUE(bad.ok());
	EXPECT_EQ(bad->rfind("error " + conf_ + ":4: [agent] max_inflight", 0), 0u) << *bad;
	EXPECT_EQ(status()["max_inflight"], "16");

	// SIGHUP does the same.
	write_conf("max_inflight = 32");
	ASSERT_EQ(kill(getpid(), SIGHUP), 0);
	std::string seen;
	for (int i = 0; i < 100 && (seen = status()["max_inflight"]) != "32"; i++)
		std::this_thread::sleep_for(20ms);
	EXPECT_EQ(seen, "32");
	EXPECT_TRUE(log_.contains("configuration reloaded"));

	agent.value()->stop();
	t.join();
}

TEST_F(AgentTest, BadConfigurationStopsStartUp) {
	write_conf("max_inflight = -1");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_FALSE(agent.ok());
	EXPECT_EQ(agent.error().reason.rfind(
	                  conf_ + ":4: [agent] max_inflight: '-1' is not a number", 0),
	          0u)
	        << agent.error().reason;
}

TEST_F(AgentTest, MissingConfiguredKeyringStopsStartUp) {
	write_conf("[authenticate]\nkeyrings = tlsupd-no-such-ring");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_FALSE(agent.ok());
	EXPECT_NE(
	        agent.error().reason.find("[authenticate] keyrings: keyring 'tlsupd-no-such-ring' "
	                                  "not found"),
	        std::string::npos)
	        << agent.error().reason;
}

TEST_F(AgentTest, UnreadableCertificateStopsStartUp) {
	std::ofstream f(conf_);
	f << "[authenticate.client]\nx509.certificate = /nonexistent.pem\nx509.private_key = "
	     "/nonexistent.key\n";
	f.close();
	auto agent = Agent::create(options(), log_.log());
	ASSERT_FALSE(agent.ok());
	EXPECT_NE(agent.error().reason.find(":2: [authenticate.client] x509.certificate: cannot "
	                                    "open /nonexistent.pem"),
	          std::string::npos)
	        << agent.error().reason;
}

} // namespace
} // namespace tlsup::test
