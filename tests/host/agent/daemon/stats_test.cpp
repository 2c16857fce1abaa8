// SPDX-License-Identifier: GPL-2.0
//
// Counters, latency percentiles, and the control socket that reports them.
#include <cstring>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>

#include "control.hpp"
#include "stats.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

TEST(LatencyHistogram, BucketsBoundTheirValues) {
	for (uint64_t v : {0ull, 1ull, 3ull, 4ull, 5ull, 7ull, 8ull, 100ull, 1023ull, 1024ull,
	                   123456ull, 10000000ull}) {
		size_t b = LatencyHistogram::bucket_of(v);
		EXPECT_GE(LatencyHistogram::bucket_upper(b), v) << v;
		if (b > 0) {
			EXPECT_LT(LatencyHistogram::bucket_upper(b - 1), v) << v;
		}
		// Four buckets per power of two: at most 25% above the value.
		EXPECT_LE(LatencyHistogram::bucket_upper(b), v + v / 4 + 1) << v;
	}
}

TEST(LatencyHistogram, Quantiles) {
	LatencyHistogram::Counts c{};
	EXPECT_EQ(LatencyHistogram::quantile(c, 0.5), 0u);
	for (int i = 0; i < 90; i++)
		c[LatencyHistogram::bucket_of(1000)]++;
	for (int i = 0; i < 9; i++)
		c[LatencyHistogram::bucket_of(20000)]++;
	c[LatencyHistogram::bucket_of(500000)]++;
	uint64_t p50 = LatencyHistogram::quantile(c, 0.50);
	uint64_t p90 = LatencyHistogram::quantile(c, 0.90);
	uint64_t p99 = LatencyHistogram::quantile(c, 0.99);
	uint64_t p100 = LatencyHistogram::quantile(c, 1.0);
	EXPECT_GE(p50, 1000u);
	EXPECT_LT(p50, 1300u);
	EXPECT_LT(p90, 1300u);
	EXPECT_GE(p99, 20000u);
	EXPECT_LT(p99, 26000u);
	EXPECT_GE(p100, 500000u);
}

TEST(Stats, CountsByStatusAndRenders) {
	Stats s;
	s.record_done(0, 1500us);
	s.record_done(EACCES, 2ms);
	s.record_done(EACCES, 3ms);
	s.record_done(EKEYREJECTED, 1ms);
	s.record_done(EPERM, 1ms); // not a DONE status: "other"
	s.record_ready();
	s.record_overrun();
	s.record_early_step();
	s.record_burst_readies(2);
	s.record_burst_readies(1);
	EXPECT_EQ(parse_status(s.snapshot().render())["acceptor_realtime"], "0");
	s.set_acceptor_realtime(true);
	auto snap = s.snapshot();
	auto kv = parse_status(snap.render());
	EXPECT_EQ(kv["acceptor_realtime"], "1");
	EXPECT_EQ(kv["done.ok"], "1");
	EXPECT_EQ(kv["done.EACCES"], "2");
	EXPECT_EQ(kv["done.EKEYREJECTED"], "1");
	EXPECT_EQ(kv["done.other"], "1");
	EXPECT_EQ(kv["done.total"], "5");
	EXPECT_EQ(kv["ready"], "1");
	EXPECT_EQ(kv["ready_overruns"], "1");
	EXPECT_EQ(kv["accept_first_steps"], "1");
	EXPECT_EQ(kv["accept_burst_readies"], "3");
	EXPECT_GE(std::stoull(kv["latency_us.p99"]), 3000u);
	EXPECT_GE(std::stoull(kv["latency_us.p50"]), 1500u);
}

// The ACCEPT latency histogram is rendered bucket by bucket, so that two
// readings give the quantiles of the ACCEPTs between them (the storm
// benchmark's window): each non-empty bucket once, by its upper bound,
// with its own count; no empty one.
TEST(Stats, RendersTheAcceptLatencyBuckets) {
	Stats s;
	s.record_accept_latency(3us);
	s.record_accept_latency(100us);
	s.record_accept_latency(101us);
	s.record_accept_latency(12ms);
	auto kv = parse_status(s.snapshot().render());
	uint64_t total = 0;
	size_t buckets = 0;
	for (const auto &[k, v] : kv) {
		if (k.rfind("accept_latency_us.le.", 0) != 0)
			continue;
		uint64_t upper = std::stoull(k.substr(std::strlen("accept_latency_us.le.")));
		EXPECT_EQ(upper,
		          LatencyHistogram::bucket_upper(LatencyHistogram::bucket_of(upper)));
		total += std::stoull(v);
		buckets++;
	}
	EXPECT_EQ(total, 4u);
	EXPECT_EQ(buckets, 3u);
	EXPECT_EQ(kv["accept_latency_us.le.3"], "1");
	EXPECT_EQ(kv["accept_latency_us.le." + std::to_string(LatencyHistogram::bucket_upper(
	                                               LatencyHistogram::bucket_of(100)))],
	          "2");
	uint64_t high = LatencyHistogram::bucket_upper(LatencyHistogram::bucket_of(12000));
	EXPECT_GE(high, 12000u);
	EXPECT_EQ(kv["accept_latency_us.le." + std::to_string(high)], "1");
}

TEST(Control, ServesStatusOverAPrivateUnixSocket) {
	char dir[] = "/tmp/tlsupd-ctl.XXXXXX";
	ASSERT_TRUE(mkdtemp(dir));
	std::string path = std::string(dir) + "/control";
	auto loop = EventLoop::create().value();
	CaptureLog log;
	std::vector<std::string> seen;
	auto srv = ControlServer::open(
	        path, *loop,
	        [&](const std::string &cmd) {
		        seen.push_back(cmd);
		        return cmd == "status" ? std::string("workers 2\ndone.ok 7\n")
		                               : std::string("error unknown\n");
	        },
	        log.log());
	ASSERT_TRUE(srv.ok()) << srv.error().reason;
	struct stat st;
	ASSERT_EQ(stat(path.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0600u);
	std::thread t([&] { EXPECT_TRUE(loop->run().ok()); });
	auto reply = control_request(path, "status");
	ASSERT_TRUE(reply.ok()) << reply.error().reason;
	EXPECT_EQ(*reply, "workers 2\ndone.ok 7\n");
	auto bad = control_request(path, "frobnicate");
	ASSERT_TRUE(bad.ok());
	EXPECT_EQ(*bad, "error unknown\n");
	loop->post([&] {
		srv.value().reset();
		loop->stop();
	});
	t.join();
	EXPECT_EQ(seen, (std::vector<std::string>{"status", "frobnicate"}));
	EXPECT_NE(stat(path.c_str(), &st), 0); // removed on close
	EXPECT_FALSE(control_request(path, "status").ok());
	rmdir(dir);
}

TEST(Control, RefusesAPathThatIsNotASocketAndLeavesItAlone) {
	char dir[] = "/tmp/tlsupd-ctl.XXXXXX";
	ASSERT_TRUE(mkdtemp(dir));
	std::string path = std::string(dir) + "/not-a-socket";
	{
		FILE *f = fopen(path.c_str(), "w");
		ASSERT_NE(f, nullptr);
		fputs("precious\n", f);
		fclose(f);
	}
	auto loop = EventLoop::create().value();
	CaptureLog log;
	auto srv = ControlServer::open(
	        path, *loop, [](const std::string &) { return std::string(); }, log.log());
	ASSERT_FALSE(srv.ok());
	EXPECT_EQ(srv.error().code, EEXIST);
	EXPECT_NE(srv.error().reason.find("not a socket"), std::string::npos);
	struct stat st;
	ASSERT_EQ(stat(path.c_str(), &st), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(st.st_size, 9);
	unlink(path.c_str());
	rmdir(dir);
}

TEST(Control, ReplacesAStaleSocket) {
	char dir[] = "/tmp/tlsupd-ctl.XXXXXX";
	ASSERT_TRUE(mkdtemp(dir));
	std::string path = std::string(dir) + "/control";
	{
		// A socket left behind by an agent that did not exit cleanly.
		UniqueFd s(socket(AF_UNIX, SOCK_STREAM, 0));
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
		ASSERT_EQ(bind(s.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
	}
	auto loop = EventLoop::create().value();
	CaptureLog log;
	auto srv = ControlServer::open(
	        path, *loop, [](const std::string &) { return std::string("ok\n"); }, log.log());
	ASSERT_TRUE(srv.ok()) << srv.error().reason;
	srv.value().reset();
	rmdir(dir);
}

TEST(Control, SilentClientIsDropped) {
	char dir[] = "/tmp/tlsupd-ctl.XXXXXX";
	ASSERT_TRUE(mkdtemp(dir));
	std::string path = std::string(dir) + "/control";
	auto loop = EventLoop::create().value();
	CaptureLog log;
	auto srv = ControlServer::open(
	        path, *loop, [](const std::string &) { return std::string("x\n"); }, log.log());
	ASSERT_TRUE(srv.ok());
	std::thread t([&] { EXPECT_TRUE(loop->run().ok()); });
	// Connect and say nothing: the agent hangs up after its 2 s limit.
	UniqueFd c(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::strcpy(addr.sun_path, path.c_str());
	ASSERT_EQ(connect(c.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
	auto t0 = Clock::now();
	pollfd p{c.get(), POLLIN, 0};
	ASSERT_EQ(::poll(&p, 1, 5000), 1);
	char buf[8];
	EXPECT_EQ(::recv(c.get(), buf, sizeof(buf), 0), 0);
	EXPECT_GE(Clock::now() - t0, 1500ms);
	loop->post([&] {
		srv.value().reset();
		loop->stop();
	});
	t.join();
	rmdir(dir);
}

TEST(Control, FormatsStatusWithKernelCounters) {
	std::map<std::string, std::string> kv{{"workers", "2"},
	                                      {"inflight", "3"},
	                                      {"max_inflight", "64"},
	                                      {"done.ok", "10"},
	                                      {"done.EACCES", "2"},
	                                      {"done.total", "12"},
	                                      {"latency_us.p50", "1500"},
	                                      {"latency_us.p90", "4000"},
	                                      {"latency_us.p99", "25000"},
	                                      {"accept_first_steps", "7"},
	                                      {"accept_burst_readies", "5"}};
	std::string out = format_status(kv, "pending 0\ncompleted 12\n");
	EXPECT_NE(out.find("7 client first step(s) in the acceptor, 5 READY(s) read again before a "
	                   "hand-over"),
	          std::string::npos)
	        << out;
	EXPECT_NE(out.find("2 worker(s), 3 handshake(s) in flight (max 64)"), std::string::npos)
	        << out;
	EXPECT_NE(out.find("p50 1.500 ms, p90 4.000 ms, p99 25.000 ms"), std::string::npos) << out;
	EXPECT_NE(out.find("  EACCES         2"), std::string::npos) << out;
	EXPECT_NE(out.find("kernel (/proc/net/tlsup):\n  pending 0\n  completed 12"),
	          std::string::npos)
	        << out;
	EXPECT_NE(format_status(kv, "").find("/proc/net/tlsup not present"), std::string::npos);
	// The acceptor's policy, said when the agent reports it.
	EXPECT_EQ(out.find("acceptor:"), std::string::npos) << out;
	kv["acceptor_realtime"] = "1";
	EXPECT_NE(format_status(kv, "").find("\nacceptor: real-time (SCHED_FIFO)\n"),
	          std::string::npos);
	kv["acceptor_realtime"] = "0";
	EXPECT_NE(format_status(kv, "").find("\nacceptor: not real-time (see tlsupd.conf(5), "
	                                     "acceptor_realtime)\n"),
	          std::string::npos);
}

} // namespace
} // namespace tlsup::test
