// SPDX-License-Identifier: GPL-2.0
//
// The agent as a whole with fake kernel channels: start-up checks, the
// control socket, reload by command and by SIGHUP, and a handshake end to
// end through a worker.
#include <algorithm>
#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <keyutils.h>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>

#include <uapi/linux/handshake.h>

#include "agent.hpp"
#include "fake_channel.hpp"
#include "test_support.hpp"
#include "version.hpp"

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
		o.open_channel =
		        [this](bool notifications) -> Result<std::unique_ptr<HandshakeChannel>> {
			auto ch = std::make_unique<FakeChannel>(kernel_);
			channels_.push_back(ch.get());
			if (notifications)
				acceptor_ = ch.get();
			return std::unique_ptr<HandshakeChannel>(std::move(ch));
		};
		return o;
	}

	std::map<std::string, std::string> status() {
		auto r = control_request(sock_, "status");
		EXPECT_TRUE(r.ok()) << (r ? "" : r.error().reason);
		return r ? parse_status(*r) : std::map<std::string, std::string>{};
	}

	// A server x509 request whose peer is a client trusting ca.pem and
	// expecting server.test: the certificate the agent presented.
	std::vector<uint8_t> presented_server_certificate() {
		auto fds = tcp_pair();
		AcceptReply r;
		r.sockfd = fds.second.release();
		r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
		r.auth_mode = HANDSHAKE_AUTH_X509;
		size_t before = kernel_.done_copy().size();
		kernel_.submit(std::move(r));
		PeerOptions p;
		p.server = false;
		p.ca = "ca.pem";
		p.verify_name = "server.test";
		Peer peer(std::move(fds.first), p);
		acceptor_->notify_ready();
		EXPECT_TRUE(kernel_.wait_dones(before + 1));
		return peer.wait().agent_cert_der;
	}

	std::string dir_, conf_, sock_;
	FakeKernel kernel_;
	std::vector<FakeChannel *> channels_;
	FakeChannel *acceptor_ = nullptr; // the one READY goes to
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
	EXPECT_EQ(channels_.size(), 3u); // one per worker, one for the acceptor

	// A handshake through a worker.
	auto peer = client_request(kernel_).peer;
	acceptor_->notify_ready();
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
	EXPECT_EQ(bad->rfind("error " + conf_ + ": [agent] max_inflight", 0), 0u) << *bad;
	EXPECT_EQ(status()["max_inflight"], "16");

	// SIGHUP does the same.
	write_conf("max_inflight = 32");
	ASSERT_EQ(kill(getpid(), SIGHUP), 0);
	std::string seen;
	for (int i = 0; i < 100 && (seen = status()["max_inflight"]) != "32"; i++)
		std::this_thread::sleep_for(20ms);
	EXPECT_EQ(seen, "32");
	EXPECT_TRUE(log_.contains("configuration reloaded"));

	// SIGUSR1 too, as in tlshd.
	write_conf("max_inflight = 48");
	ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
	for (int i = 0; i < 100 && (seen = status()["max_inflight"]) != "48"; i++)
		std::this_thread::sleep_for(20ms);
	EXPECT_EQ(seen, "48");

	agent.value()->stop();
	t.join();
}

// Runs tlsupctl with ARGS; returns its exit status and stdout+stderr.
std::pair<int, std::string> tlsupctl(const std::string &args) {
	std::string cmd = std::string(TLSUP_TLSUPCTL) + " " + args + " 2>&1";
	FILE *p = popen(cmd.c_str(), "r");
	if (!p)
		return {-1, "popen failed"};
	std::string out;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		out.append(buf, n);
	int st = pclose(p);
	return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST_F(AgentTest, TlsupctlAgainstARunningAgent) {
	write_conf("max_inflight = 8");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });

	// The socket from the same configuration file the agent reads.
	auto [st, out] = tlsupctl("-c " + conf_ + " status");
	EXPECT_EQ(st, 0) << out;
	EXPECT_NE(out.find("tlsupd " + std::string(kVersion) +
	                   ": 2 worker(s), 0 handshake(s) "
	                   "in flight (max 8)"),
	          std::string::npos)
	        << out;
	auto [js, json] = tlsupctl("-s " + sock_ + " status --json");
	EXPECT_EQ(js, 0) << json;
	EXPECT_EQ(json.rfind("{\"agent\":{\"running\":true,\"socket\":\"" + sock_ + "\",", 0), 0u)
	        << json;
	for (const char *member :
	     {"\"workers\":2", "\"max_inflight\":8", "\"done\":{", "\"EACCES\":0",
	      "\"latency_us\":{", "\"p99\":", "\"version\":\""})
		EXPECT_NE(json.find(member), std::string::npos) << member << " in " << json;

	// reload: 0 and "ok"; a bad file: 1, the reason, and the old
	// configuration keeps serving.
	write_conf("max_inflight = 16");
	auto [ok, ok_out] = tlsupctl("-s " + sock_ + " reload");
	EXPECT_EQ(ok, 0) << ok_out;
	EXPECT_EQ(ok_out, "ok\n");
	write_conf("max_inflight = lots");
	auto [bad, bad_out] = tlsupctl("-s " + sock_ + " reload");
	EXPECT_EQ(bad, 1) << bad_out;
	EXPECT_NE(bad_out.find("tlsupctl: reload failed: " + conf_ +
	                       ": [agent] max_inflight: 'lots' is not a number"),
	          std::string::npos)
	        << bad_out;
	EXPECT_NE(bad_out.find("tlsupd keeps its running configuration"), std::string::npos);
	EXPECT_EQ(status()["max_inflight"], "16");
	// Without test_hooks the test hook is refused.
	auto [hook, hook_out] = tlsupctl("-s " + sock_ + " test-stall-worker 0 10");
	EXPECT_EQ(hook, 1) << hook_out;
	EXPECT_NE(hook_out.find("test_hooks"), std::string::npos) << hook_out;

	agent.value()->stop();
	t.join();
}

// The socket systemd listens on for sd_notify ($NOTIFY_SOCKET).
class NotifySocket {
public:
	explicit NotifySocket(const std::string &path) : path_(path) {
		fd_.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
		sockaddr_un a{};
		a.sun_family = AF_UNIX;
		std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
		EXPECT_EQ(bind(fd_.get(), reinterpret_cast<sockaddr *>(&a), sizeof(a)), 0);
	}
	// The next datagram, or "" after LIMIT.
	std::string next(std::chrono::milliseconds limit) {
		pollfd p{fd_.get(), POLLIN, 0};
		if (::poll(&p, 1, static_cast<int>(limit.count())) != 1)
			return {};
		char buf[512];
		ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
		return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
	}
	// Datagrams until one starts with PREFIX (returned) or LIMIT passes.
	std::string until(const std::string &prefix, std::chrono::milliseconds limit,
	                  std::vector<std::string> *skipped = nullptr) {
		auto end = Clock::now() + limit;
		while (Clock::now() < end) {
			auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
			        end - Clock::now());
			std::string m = next(left);
			if (m.rfind(prefix, 0) == 0)
				return m;
			if (skipped && !m.empty())
				skipped->push_back(m);
		}
		return {};
	}
	const std::string &path() const { return path_; }

private:
	std::string path_;
	UniqueFd fd_;
};

TEST_F(AgentTest, SystemdReadyReloadingWatchdogAndAStalledWorker) {
	write_conf("test_hooks = true");
	NotifySocket ns(dir_ + "/notify");
	setenv("NOTIFY_SOCKET", ns.path().c_str(), 1);
	setenv("WATCHDOG_USEC", "600000", 1);
	setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
	// Queued before the agent starts: only the start-up sweep can take it,
	// and READY=1 must not come before it did.
	auto fds = unix_pair();
	AcceptReply r;
	r.sockfd = fds.first.release();
	r.message_type = HANDSHAKE_MSG_TYPE_CLIENTHELLO;
	r.auth_mode = HANDSHAKE_AUTH_UNAUTH;
	r.peername = "server.test";
	r.timeout_ms = 100;
	kernel_.submit(std::move(r));

	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });

	std::string ready = ns.until("READY=1", 5s);
	{
		std::lock_guard lock(kernel_.mu);
		EXPECT_EQ(kernel_.accepts, 1u); // the queued request
		EXPECT_GE(kernel_.eagains, 1u); // the acceptor swept until -EAGAIN
	}
	EXPECT_EQ(ready, "READY=1\nSTATUS=2 worker(s) accepting, up to 1024 handshakes in flight");

	// Keep-alives while every loop runs: never a gap systemd would act on.
	auto gaps = [&](std::chrono::milliseconds window) {
		std::vector<std::chrono::milliseconds> out;
		auto end = Clock::now() + window, last = Clock::now();
		while (Clock::now() < end) {
			std::string m = ns.until("WATCHDOG=1", 100ms);
			if (m.empty())
				continue;
			auto now = Clock::now();
			out.push_back(
			        std::chrono::duration_cast<std::chrono::milliseconds>(now - last));
			last = now;
		}
		out.push_back(
		        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last));
		return *std::max_element(out.begin(), out.end());
	};
	EXPECT_LT(gaps(1500ms), 600ms);

	// One stuck worker stops the keep-alives for longer than WATCHDOG_USEC.
	auto stall = control_request(sock_, "test stall-worker 1 2500");
	ASSERT_TRUE(stall.ok());
	EXPECT_EQ(*stall, "ok worker 1 stalls for 2500 ms\n");
	EXPECT_GE(gaps(2500ms), 1200ms);
	EXPECT_TRUE(log_.contains("worker 1: its loop has not run for"));
	// And they come back when it runs again.
	EXPECT_NE(ns.until("WATCHDOG=1", 2s), "");

	// Reload: RELOADING=1 with MONOTONIC_USEC, then READY=1, taken or not.
	ASSERT_TRUE(control_request(sock_, "reload").ok());
	std::string reloading = ns.until("RELOADING=1", 2s);
	EXPECT_EQ(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << reloading;
	EXPECT_GT(std::stoull(reloading.substr(reloading.find('=', 12) + 1)), 0u);
	EXPECT_EQ(ns.until("READY=1", 2s), "READY=1\nSTATUS=serving; configuration reloaded");
	write_conf("max_inflight = lots");
	ASSERT_TRUE(control_request(sock_, "reload").ok());
	EXPECT_NE(ns.until("RELOADING=1", 2s), "");
	EXPECT_EQ(ns.until("READY=1", 2s)
	                  .rfind("READY=1\nSTATUS=serving with the previous "
	                         "configuration; reload failed: " +
	                                 conf_,
	                         0),
	          0u);

	agent.value()->stop();
	t.join();
	EXPECT_NE(ns.until("STOPPING=1", 1s), "");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

TEST_F(AgentTest, HandshakeOutcomeCarriesJournalFields) {
	// What `journalctl TLSUP_STATUS=EIO` finds: the worker logs each
	// outcome with its fields.
	std::mutex mu;
	std::vector<std::vector<std::string>> entries;
	Log recorder(Log::Sink([&](const LogRecord &r) {
		if (!r.fields)
			return;
		std::lock_guard lock(mu);
		entries.push_back(journal_fields(r));
	}));
	write_conf("");
	auto agent = Agent::create(options(), recorder);
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });

	auto fds = tcp_pair();
	sockaddr_in local{};
	socklen_t len = sizeof(local);
	ASSERT_EQ(getsockname(fds.second.get(), reinterpret_cast<sockaddr *>(&local), &len), 0);
	AcceptReply r;
	r.sockfd = fds.first.release();
	r.message_type = HANDSHAKE_MSG_TYPE_CLIENTHELLO;
	r.auth_mode = HANDSHAKE_AUTH_UNAUTH;
	r.peername = "server.test";
	kernel_.submit(std::move(r));
	PeerOptions p;
	p.cert = p.key = "server";
	Peer peer(std::move(fds.second), p);
	acceptor_->notify_ready();
	ASSERT_TRUE(kernel_.wait_dones(1));
	agent.value()->stop();
	t.join();

	std::lock_guard lock(mu);
	ASSERT_EQ(entries.size(), 1u);
	const auto &e = entries[0];
	auto field = [&](const std::string &name) {
		for (const auto &f : e)
			if (f.rfind(name + "=", 0) == 0)
				return f.substr(name.size() + 1);
		return std::string("(absent)");
	};
	// The build host has no kTLS: the installer fails, EIO.
	EXPECT_EQ(field("TLSUP_STATUS"), "EIO");
	EXPECT_EQ(field("PRIORITY"), "3");
	EXPECT_EQ(field("TLSUP_AUTH"), "anon");
	EXPECT_EQ(field("TLSUP_PEER"), "127.0.0.1:" + std::to_string(ntohs(local.sin_port)));
	EXPECT_NE(field("TLSUP_REQUEST").find(".1"), std::string::npos) << field("TLSUP_REQUEST");
	EXPECT_GT(std::stoull(field("TLSUP_LATENCY_US")), 0u);
	EXPECT_NE(field("MESSAGE").find("handshake failed: EIO"), std::string::npos);
}

TEST_F(AgentTest, WithoutTestHooksNothingStalls) {
	write_conf("");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	auto r = control_request(sock_, "test stall-worker 0 100000");
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(*r, "error test commands are disabled ([agent] test_hooks = false)\n");
	EXPECT_FALSE(log_.contains("stalls"));
	agent.value()->stop();
	t.join(); // promptly: no worker sleeps
}

// Started real-time (a unit with CPUSchedulingPolicy=fifo: every thread
// from the start): once running, only the acceptor is; the thread that ran
// the agent left the policy, and tlsupctl status says the acceptor has it.
TEST_F(AgentTest, OnlyTheAcceptorStaysRealtimeWhenStartedRealtime) {
	write_conf("");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::atomic<pid_t> main_tid{0};
	std::atomic<bool> realtime{true};
	std::thread t([&] {
		sched_param sp{};
		sp.sched_priority = 1;
		realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
		main_tid = gettid();
		EXPECT_TRUE(agent.value()->run().ok());
	});
	while (!main_tid)
		std::this_thread::sleep_for(1ms);
	if (!realtime) {
		agent.value()->stop();
		t.join();
		GTEST_SKIP() << "cannot make a thread real-time here (needs CAP_SYS_NICE)";
	}
	// Served by the running agent's main loop; the acceptor says its
	// policy once its thread runs.
	auto s = status();
	for (int i = 0; i < 500 && s["acceptor_realtime"] != "1"; i++) {
		std::this_thread::sleep_for(10ms);
		s = status();
	}
	EXPECT_EQ(s["acceptor_realtime"], "1");
	EXPECT_EQ(sched_getscheduler(main_tid), SCHED_OTHER);
	agent.value()->stop();
	t.join();
}

// The real-time acceptor never writes a log line itself (a write to
// journald can block while its queue is full): its lines are written by
// the main loop.
TEST_F(AgentTest, TheAcceptorsLinesAreWrittenByTheMainThread) {
	write_conf("");
	std::mutex mu;
	std::vector<std::pair<std::string, std::string>> lines; // thread, message
	Log log(Log::Sink([&](const LogRecord &r) {
		char name[32] = "";
		pthread_getname_np(pthread_self(), name, sizeof(name));
		std::lock_guard lock(mu);
		lines.emplace_back(name, std::string(r.message));
	}));
	auto agent = Agent::create(options(), log);
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] {
		pthread_setname_np(pthread_self(), "test-main");
		EXPECT_TRUE(agent.value()->run().ok());
	});
	ASSERT_TRUE(kernel_.wait_eagains(1));
	// An ACCEPT that fails (the consumer's keyring revoked: tlsup.ko's link
	// fails): the acceptor logs it.
	key_serial_t ring =
	        add_key("keyring", "agent-test-acceptor-line", nullptr, 0, KEY_SPEC_THREAD_KEYRING);
	ASSERT_GT(ring, 0);
	ASSERT_EQ(keyctl_revoke(ring), 0);
	auto bad = tcp_pair();
	kernel_.submit(server_accept_reply(std::move(bad.first), HANDSHAKE_AUTH_PSK), ring, true);
	acceptor_->notify_ready();
	auto acceptor_line = [&] {
		std::lock_guard lock(mu);
		for (const auto &[thread, message] : lines)
			if (message.rfind("acceptor: ", 0) == 0)
				return std::optional<std::string>(thread);
		return std::optional<std::string>();
	};
	for (int i = 0; i < 500 && !acceptor_line(); i++)
		std::this_thread::sleep_for(10ms);
	auto thread = acceptor_line();
	ASSERT_TRUE(thread.has_value()) << "no line from the acceptor";
	EXPECT_EQ(*thread, "test-main");
	agent.value()->stop();
	t.join();
	std::lock_guard lock(mu);
	for (const auto &[thread, message] : lines)
		EXPECT_NE(thread, "tlsupd-accept") << message;
}

// The acceptor's own log follows the level a reload sets: with log_level
// = debug, its "ACCEPT paused" line (max_inflight reached) is written.
TEST_F(AgentTest, TheAcceptorsLogFollowsTheReloadedLevel) {
	write_conf("max_inflight = 1");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	ASSERT_TRUE(kernel_.wait_eagains(1));
	write_conf("max_inflight = 1\nlog_level = debug");
	auto ok = control_request(sock_, "reload");
	ASSERT_TRUE(ok.ok());
	ASSERT_EQ(*ok, "ok\n");
	PeerOptions stall;
	stall.misbehave = PeerOptions::Misbehave::Stall;
	Conn first = client_request(kernel_, stall, 2000); // holds the one slot
	acceptor_->notify_ready();
	Conn second = client_request(kernel_, stall, 2000);
	acceptor_->notify_ready();
	bool paused = false;
	for (int i = 0; i < 500 && !paused; i++) {
		std::this_thread::sleep_for(10ms);
		paused = log_.contains("ACCEPT paused");
	}
	EXPECT_TRUE(paused) << ::testing::PrintToString(log_.lines());
	agent.value()->stop();
	t.join();
}

TEST_F(AgentTest, StallWorkerChecksItsArguments) {
	write_conf("test_hooks = yes");
	// "yes" is not a GLib boolean: refused at start-up.
	EXPECT_FALSE(Agent::create(options(), log_.log()).ok());
	write_conf("test_hooks = 1");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	for (const char *bad :
	     {"test stall-worker 2 10", "test stall-worker 0 0", "test stall-worker 0 600001",
	      "test stall-worker x 1", "test stall-worker 0 1 extra", "test frobnicate"}) {
		auto r = control_request(sock_, bad);
		ASSERT_TRUE(r.ok());
		EXPECT_EQ(r->rfind("error ", 0), 0u) << bad << ": " << *r;
	}
	agent.value()->stop();
	t.join();
}

TEST_F(AgentTest, ReloadRereadsTheFileChosenAtStartUp) {
	// Started from tlshd's file, a reload reads it again even once a file
	// earlier in the search order exists (tlshd reloads the path it
	// loaded). workers and control_socket change only at a restart.
	AgentOptions o = options();
	o.config_path.clear();
	o.config_search.own = dir_ + "/own.conf";
	o.config_search.tlshd_legacy = dir_ + "/legacy.conf";
	o.config_search.tlshd = conf_;
	write_conf("max_inflight = 8");
	auto agent = Agent::create(std::move(o), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	EXPECT_EQ(status()["config"], conf_);

	std::ofstream(dir_ + "/own.conf") << "[agent]\nmax_inflight = 99\n";
	std::string old_sock = sock_;
	write_conf("max_inflight = 12\nworkers = 3\nacceptor_realtime = false");
	std::ofstream(conf_, std::ios::app) << "[agent]\ncontrol_socket = " << dir_ << "/other\n";
	auto ok = control_request(old_sock, "reload");
	ASSERT_TRUE(ok.ok());
	EXPECT_EQ(*ok, "ok\n");
	auto s = status();
	EXPECT_EQ(s["config"], conf_);
	EXPECT_EQ(s["max_inflight"], "12");
	EXPECT_EQ(s["workers"], "2");
	EXPECT_TRUE(log_.contains("workers changes at the next restart"));
	EXPECT_TRUE(log_.contains("control_socket changes at the next restart"));
	EXPECT_TRUE(log_.contains("acceptor_realtime changes at the next restart"));

	agent.value()->stop();
	t.join();
}

TEST_F(AgentTest, SessionTagFilesAreFoundAndReportedNotApplied) {
	// The files tlshd would read: *.yml and *.yaml; tags.example (what
	// ktls-utils installs there) and other names are not.
	std::string tags = dir_ + "/tags.d";
	std::filesystem::create_directory(tags);
	for (const char *f : {"b.yaml", "a.yml", "tags.example", "c.yml.bak", "yml"})
		std::ofstream(tags + "/" + f) << "---\ntags: {}\n";
	EXPECT_EQ(session_tag_files(tags),
	          (std::vector<std::string>{tags + "/a.yml", tags + "/b.yaml"}));
	EXPECT_TRUE(session_tag_files(dir_ + "/none").empty());

	write_conf("");
	AgentOptions o = options();
	o.tags_dir = tags;
	auto agent = Agent::create(std::move(o), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	EXPECT_TRUE(log_.contains(
	        "<4>" + tags + "/a.yml: session tags are not applied: tlsupd sends no DONE TAG"));
	EXPECT_TRUE(log_.contains(tags + "/b.yaml: session tags are not applied"));
	EXPECT_FALSE(log_.contains("tags.example"));
}

TEST_F(AgentTest, BadConfigurationStopsStartUp) {
	write_conf("max_inflight = -1");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_FALSE(agent.ok());
	EXPECT_EQ(agent.error().reason.rfind(conf_ + ": [agent] max_inflight: '-1' is not a number",
	                                     0),
	          0u)
	        << agent.error().reason;
}

TEST_F(AgentTest, MissingConfiguredKeyringIsAWarningNotAFailedStart) {
	// tlshd logs a keyring it cannot link and goes on; so does tlsupd (it
	// used to refuse to start).
	write_conf("[authenticate]\nkeyrings = tlsupd-no-such-ring");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	EXPECT_TRUE(log_.contains("[authenticate] keyrings: keyring 'tlsupd-no-such-ring' not "
	                          "linked"));
}

// The lines a configuration's keyrings draw go out at that configuration's
// level, at start-up and at a reload: "linked keyring" (info) is not
// written under log_level = warning, and is under info. (They used to be
// written before the new level was set, at the old one.)
TEST_F(AgentTest, TheKeyringLinesFollowTheConfigurationsOwnLevel) {
	key_serial_t ring = add_keyring("tlsupd-level-ring", KEY_SPEC_SESSION_KEYRING);
	ASSERT_GT(ring, 0);
	auto linked_lines = [&] {
		auto lines = log_.lines();
		return std::count_if(lines.begin(), lines.end(), [](const std::string &l) {
			return l.find("linked keyring 'tlsupd-level-ring'") != std::string::npos;
		});
	};
	write_conf("log_level = warning\n[authenticate]\nkeyrings = tlsupd-level-ring");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	EXPECT_EQ(linked_lines(), 0) << ::testing::PrintToString(log_.lines());
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });

	write_conf("log_level = info\n[authenticate]\nkeyrings = tlsupd-level-ring");
	auto ok = control_request(sock_, "reload");
	ASSERT_TRUE(ok.ok());
	EXPECT_EQ(*ok, "ok\n");
	EXPECT_EQ(linked_lines(), 1) << ::testing::PrintToString(log_.lines());

	write_conf("log_level = warning\n[authenticate]\nkeyrings = tlsupd-level-ring");
	ok = control_request(sock_, "reload");
	ASSERT_TRUE(ok.ok());
	EXPECT_EQ(*ok, "ok\n");
	EXPECT_EQ(linked_lines(), 1) << ::testing::PrintToString(log_.lines());
	agent.value()->stop();
	t.join();
	keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING);
}

// A reload whose keyrings cannot be linked (EDEADLK: a root keyring that
// holds tlsupd:linked) is refused as a whole: the old server certificate
// and the old log level stay; no "linked" line. Once it can be linked,
// the same file is taken as a whole: the new certificate and level.
TEST_F(AgentTest, AReloadWhoseKeyringsCannotBeLinkedKeepsCredentialsAndLevel) {
	const Pki &pki = Pki::get();
	std::string ring_name = "tlsupd-publish-cycle-" + std::to_string(getpid());
	key_serial_t cycle = add_keyring(ring_name, KEY_SPEC_SESSION_KEYRING);
	ASSERT_GT(cycle, 0);
	ASSERT_EQ(keyctl_setperm(cycle, 0x3f3f0000), 0);
	auto conf = [&](const std::string &cert, const std::string &extra) {
		std::ofstream(conf_)
		        << "[agent]\nworkers = 1\ncontrol_socket = " << sock_ << "\n"
		        << extra
		        << "\n[authenticate.server]\nx509.truststore = " << pki.path("ca.pem")
		        << "\nx509.certificate = " << pki.path(cert + ".pem")
		        << "\nx509.private_key = " << pki.path(cert + ".key") << "\n";
	};
	conf("server", "log_level = warning");
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	EXPECT_EQ(presented_server_certificate(), pki.cert_der("server"));
	EXPECT_EQ(log_.log().level(), kLogWarning);

	key_serial_t holder =
	        keyctl_search(KEY_SPEC_PROCESS_KEYRING, "keyring", "tlsupd:linked", 0);
	ASSERT_GT(holder, 0);
	ASSERT_EQ(keyctl_link(holder, cycle), 0);
	conf("server-noip", "log_level = debug\n[authenticate]\nkeyrings = " + ring_name);
	auto r = control_request(sock_, "reload");
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(r->rfind("error ", 0), 0u) << *r;
	EXPECT_EQ(log_.log().level(), kLogWarning) << "a failed reload set its level";
	EXPECT_EQ(presented_server_certificate(), pki.cert_der("server"))
	        << "a failed reload replaced credentials";
	EXPECT_FALSE(log_.contains("linked keyring '" + ring_name))
	        << ::testing::PrintToString(log_.lines());

	ASSERT_EQ(keyctl_unlink(holder, cycle), 0);
	r = control_request(sock_, "reload");
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(*r, "ok\n");
	EXPECT_EQ(log_.log().level(), kLogDebug);
	EXPECT_EQ(presented_server_certificate(), pki.cert_der("server-noip"));
	EXPECT_TRUE(log_.contains("linked keyring '" + ring_name))
	        << ::testing::PrintToString(log_.lines());
	agent.value()->stop();
	t.join();
	keyctl_unlink(cycle, KEY_SPEC_SESSION_KEYRING);
}

TEST_F(AgentTest, AKeyringThatAppearsLaterIsLinkedWithoutAReload) {
	// A consumer keyring (as .nvme when its module loads later) and a
	// configured one that are missing at start-up: linked when they
	// appear, and a server PSK in them then authenticates -- no reload.
	write_conf("[authenticate]\nkeyrings = tlsupd-late-configured\n"
	           "psk_keyrings = tlsupd-late-consumer;tlsupd-late-configured");
	AgentOptions o = options();
	o.consumer_keyrings = {"tlsupd-late-consumer"};
	o.keyring_retry = 50ms;
	auto agent = Agent::create(o, log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	std::this_thread::sleep_for(100ms);

	// RING: the request's own keyring, linked by the ACCEPT (as upstream
	// does, without KEYRING).
	auto psk_handshake = [&](const std::string &identity, const std::vector<uint8_t> &key,
	                         key_serial_t ring = 0) {
		return server_psk_status(kernel_, *acceptor_, identity, key, ring);
	};
	auto key = random_bytes(32);
	EXPECT_EQ(psk_handshake("late-client", key), static_cast<uint32_t>(EKEYREJECTED));
	key_serial_t consumer = 0;
	for (const char *name : {"tlsupd-late-consumer", "tlsupd-late-configured"}) {
		key_serial_t ring = add_keyring(name, KEY_SPEC_SESSION_KEYRING);
		add_user_key(std::string(name) + "-psk", key, ring);
		if (!consumer)
			consumer = ring;
	}
	// Until the retry timer has linked both and taken the second as a PSK
	// keyring (the start-up warning names them too: wait for these lines).
	auto linked_both = [&] {
		auto lines = log_.lines();
		return std::count_if(lines.begin(), lines.end(),
		                     [](const std::string &l) {
			                     return l.find("appeared: linked") != std::string::npos;
		                     }) == 2 &&
		       log_.contains("PSK keyring 'tlsupd-late-configured' (");
	};
	for (int i = 0; i < 500 && !linked_both(); i++)
		std::this_thread::sleep_for(10ms);
	EXPECT_TRUE(log_.contains("keyring 'tlsupd-late-consumer'"));
	EXPECT_TRUE(log_.contains("appeared: linked, searched for its consumer's requests only"));
	EXPECT_TRUE(log_.contains("appeared: linked, searched for every request"));
	// The handshakes now succeed; kTLS then fails with EIO (this host's
	// kernel has no "tls" ULP) where before the PSK was unknown. The
	// consumer keyring serves its consumer's requests (those whose ACCEPT
	// links it), as .nvme serves an NVMe target's; the configured one all.
	EXPECT_EQ(psk_handshake("tlsupd-late-consumer-psk", key, consumer),
	          static_cast<uint32_t>(EIO));
	EXPECT_EQ(psk_handshake("tlsupd-late-consumer-psk", key),
	          static_cast<uint32_t>(EKEYREJECTED));
	EXPECT_EQ(psk_handshake("tlsupd-late-configured-psk", key), static_cast<uint32_t>(EIO));
	EXPECT_EQ(status()["reloads"], "0");
	agent.value()->stop();
	t.join();
}

TEST_F(AgentTest, ARenewedCertificateIsUsedWithoutAReload) {
	// The server's certificate and key in a directory of their own, renewed
	// as certbot or an administrator would: new files renamed over the old.
	const Pki &pki = Pki::get();
	std::string certs = dir_ + "/certs";
	std::filesystem::create_directories(certs);
	auto install = [&](const std::string &name) {
		std::filesystem::copy_file(pki.path(name + ".pem"), certs + "/new.pem",
		                           std::filesystem::copy_options::overwrite_existing);
		std::filesystem::copy_file(pki.path(name + ".key"), certs + "/new.key",
		                           std::filesystem::copy_options::overwrite_existing);
		std::filesystem::rename(certs + "/new.pem", certs + "/server.pem");
		std::filesystem::rename(certs + "/new.key", certs + "/server.key");
	};
	install("server");
	std::ofstream(conf_) << "[agent]\nworkers = 1\ncontrol_socket = " << sock_
	                     << "\n[authenticate.server]\nx509.truststore = " << pki.path("ca.pem")
	                     << "\nx509.certificate = " << certs << "/server.pem\n"
	                     << "x509.private_key = " << certs << "/server.key\n";
	AgentOptions o = options();
	o.credential_settle = 50ms;
	auto agent = Agent::create(o, log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });

	EXPECT_EQ(presented_server_certificate(), pki.cert_der("server"));
	install("server-noip"); // the renewal: another certificate for server.test
	for (int i = 0; i < 200 && !log_.contains("credentials reloaded"); i++)
		std::this_thread::sleep_for(10ms);
	EXPECT_TRUE(log_.contains("certificate files changed: credentials reloaded"));
	EXPECT_EQ(presented_server_certificate(), pki.cert_der("server-noip"));
	EXPECT_EQ(status()["reloads"], "0");
	// A half-done renewal (a certificate without its key) keeps the
	// previous pair.
	std::filesystem::copy_file(pki.path("client.pem"), certs + "/new.pem",
	                           std::filesystem::copy_options::overwrite_existing);
	std::filesystem::rename(certs + "/new.pem", certs + "/server.pem");
	for (int i = 0; i < 200 && !log_.contains("keeping the previous ones"); i++)
		std::this_thread::sleep_for(10ms);
	EXPECT_TRUE(log_.contains("keeping the previous ones"));
	EXPECT_EQ(presented_server_certificate(), pki.cert_der("server-noip"));
	agent.value()->stop();
	t.join();
}

TEST_F(AgentTest, UnreadableCertificateStopsStartUp) {
	std::ofstream f(conf_);
	f << "[authenticate.client]\nx509.certificate = /nonexistent.pem\nx509.private_key = "
	     "/nonexistent.key\n";
	f.close();
	auto agent = Agent::create(options(), log_.log());
	ASSERT_FALSE(agent.ok());
	EXPECT_NE(agent.error().reason.find(": [authenticate.client] x509.certificate: cannot "
	                                    "open /nonexistent.pem"),
	          std::string::npos)
	        << agent.error().reason;
}

} // namespace
} // namespace tlsup::test
