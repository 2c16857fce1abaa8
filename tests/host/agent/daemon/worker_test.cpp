// SPDX-License-Identifier: GPL-2.0
//
// Workers against a fake kernel channel: ACCEPT at start-up and until
// -EAGAIN, READY storms and lost notifications, the in-flight bound,
// deadlines, reverse DNS on the helper thread, and the DONE each request
// gets (status, remote peer ids, the agent's fd closed only afterwards).
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <sstream>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <thread>

#include <uapi/linux/handshake.h>

#include "engine_run.hpp"
#include "keyring.hpp"
#include "keyring_linker.hpp"
#include "worker_rig.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

PeerOptions stalling() {
	PeerOptions p;
	p.misbehave = PeerOptions::Misbehave::Stall;
	return p;
}

TEST(Worker, AcceptsAtStartupWhatWasQueuedBefore) {
	WorkerRig h;
	std::vector<Conn> conns;
	for (int i = 0; i < 3; i++)
		conns.push_back(client_request(h.kernel));
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(3));
	for (const auto &d : h.kernel.done_copy()) {
		EXPECT_EQ(d.status, 0u);
		EXPECT_EQ(d.remote_auth.size(), 1u); // the server's certificate key
	}
	EXPECT_EQ(h.installs.load(), 3);
	for (auto &c : conns)
		EXPECT_EQ(c.peer->wait().ret, 0);
	// The handshakes may all finish inside the start-up burst (a fast
	// peer answers before the agent's next recv), so the empty ACCEPT that
	// ends it can come after the third DONE: wait for it.
	EXPECT_TRUE(h.kernel.wait_eagains(1)); // it stopped at -EAGAIN
	std::lock_guard lock(h.kernel.mu);
	EXPECT_EQ(h.kernel.accepts, 3u);
	for (bool open : h.kernel.fd_open_at_done)
		EXPECT_TRUE(open);
}

TEST(Worker, EachReadyIsOneAccept) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1)); // the start-up ACCEPT found nothing
	std::vector<Conn> conns;
	for (int i = 0; i < 4; i++)
		conns.push_back(client_request(h.kernel));
	notify->notify_ready(4); // the kernel sends one READY per request
	ASSERT_TRUE(h.kernel.wait_dones(4));
	EXPECT_EQ(h.stats.snapshot().done[0], 4u);
	std::lock_guard lock(h.kernel.mu);
	EXPECT_EQ(h.kernel.accepts, 4u);
	// No ACCEPT asked for a fifth: four READYs, four requests.
	EXPECT_EQ(h.kernel.eagains, 1u);
}

TEST(Worker, AReadyForARequestAnotherAgentTookEndsAtEagain) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	notify->notify_ready(2); // both taken by another agent in this namespace
	ASSERT_TRUE(h.kernel.wait_eagains(2));
	Conn c = client_request(h.kernel);
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	// The owed second ACCEPT was dropped at -EAGAIN: no READY is owed.
	std::this_thread::sleep_for(50ms);
	std::lock_guard lock(h.kernel.mu);
	EXPECT_EQ(h.kernel.eagains, 2u);
}

// Each thread's comm and field N of /proc/self/task/T/stat (19: nice, 41:
// scheduling policy).
std::map<std::string, int> thread_stat(int n) {
	std::map<std::string, int> out;
	for (const auto &e : std::filesystem::directory_iterator("/proc/self/task")) {
		std::ifstream f(e.path() / "stat");
		std::string stat((std::istreambuf_iterator<char>(f)),
		                 std::istreambuf_iterator<char>());
		auto open = stat.find('('), close = stat.rfind(')');
		if (open == std::string::npos || close == std::string::npos)
			continue;
		std::istringstream rest(stat.substr(close + 2));
		std::string field;
		for (int i = 3; i <= n && rest >> field; i++)
			if (i == n)
				out[stat.substr(open + 1, close - open - 1)] = std::stoi(field);
	}
	return out;
}

std::map<std::string, int> thread_nice() {
	return thread_stat(19);
}

// Each thread's nice value once the acceptor and WORKERS have named
// themselves and every worker has reniced itself (each does once it runs:
// on a loaded host that can come after the acceptor's first ACCEPT); 5 s
// at most.
std::map<std::string, int> settled_nice(const std::vector<std::string> &workers) {
	auto settled = [&](std::map<std::string, int> &n) {
		if (!n.count("tlsupd-accept"))
			return false;
		for (const auto &w : workers)
			if (!n.count(w) || n[w] == n["tlsupd-accept"])
				return false;
		return true;
	};
	auto nice = thread_nice();
	for (int i = 0; i < 500 && !settled(nice); i++) {
		std::this_thread::sleep_for(10ms);
		nice = thread_nice();
	}
	return nice;
}

// One client request through H's acceptor and a worker, done.
void expect_a_handshake_through(WorkerRig &h) {
	Conn c = client_request(h.kernel);
	h.channels.back()->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	EXPECT_EQ(c.peer->wait().ret, 0);
}

// Each thread's scheduling policy (without SCHED_RESET_ON_FORK), once the
// agent's threads NAMES have named themselves, the acceptor's policy is
// ACCEPTOR and the workers' SCHED_OTHER (each sets its own once it runs: on
// a loaded host that can come late); 5 s at most.
std::map<std::string, int> thread_policies(const std::vector<std::string> &names, int acceptor) {
	auto p = thread_stat(41);
	auto settled = [&] {
		for (const auto &n : names)
			if (!p.count(n) || p[n] != (n == "tlsupd-accept" ? acceptor : SCHED_OTHER))
				return false;
		return true;
	};
	for (int i = 0; i < 500 && !settled(); i++) {
		std::this_thread::sleep_for(10ms);
		p = thread_stat(41);
	}
	return p;
}

// Whether the acceptor has put "real-time" in the stats (it does once its
// thread runs, which may come after the policy it inherited shows); 5 s at
// most.
bool acceptor_said_realtime(WorkerRig &h) {
	for (int i = 0; i < 500 && !h.stats.snapshot().acceptor_realtime; i++)
		std::this_thread::sleep_for(10ms);
	return h.stats.snapshot().acceptor_realtime;
}

// Starts RIG's N workers and its acceptor from a thread that is SCHED_FIFO,
// as a unit with CPUSchedulingPolicy=fifo starts every thread of the
// service; false when this host does not let a thread be real-time.
bool start_realtime(WorkerRig &rig, unsigned n, bool acceptor_realtime) {
	bool ok = false;
	std::thread([&] {
		sched_param sp{};
		sp.sched_priority = 1;
		if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
			return;
		ok = true;
		rig.start(n, 5, acceptor_realtime);
	}).join();
	return ok;
}

// [agent] acceptor_realtime: the acceptor keeps the unit's real-time
// policy, so a READY preempts busy workers and the consumers' own threads
// and a storm's submissions are not refused; every worker leaves it (a
// real-time handshake would starve the machine) and is nicer still.
TEST(Worker, OnlyTheAcceptorKeepsAnInheritedRealtimePolicy) {
	WorkerRig h;
	if (!start_realtime(h, 2, true))
		GTEST_SKIP() << "cannot make a thread real-time here (needs CAP_SYS_NICE)";
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto p = thread_policies({"tlsupd-accept", "tlsupd-w0", "tlsupd-w1"}, SCHED_FIFO);
	EXPECT_EQ(p["tlsupd-accept"], SCHED_FIFO);
	EXPECT_EQ(p["tlsupd-w0"], SCHED_OTHER);
	EXPECT_EQ(p["tlsupd-w1"], SCHED_OTHER);
	// Each worker renices itself after it left the policy.
	auto nice = settled_nice({"tlsupd-w0", "tlsupd-w1"});
	EXPECT_EQ(nice["tlsupd-w0"], std::min(nice["tlsupd-accept"] + 5, 19));
	EXPECT_TRUE(acceptor_said_realtime(h));
	EXPECT_FALSE(h.log.contains("real-time")) << ::testing::PrintToString(h.log.lines());
	expect_a_handshake_through(h);
}

// Outside the unit, as root: the acceptor asks for SCHED_FIFO itself.
TEST(Worker, TheAcceptorAsksForRealtimeItself) {
	WorkerRig h;
	h.start(1, 0, true);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto p = thread_policies({"tlsupd-accept", "tlsupd-w0"}, SCHED_FIFO);
	if (h.log.contains("cannot run real-time"))
		GTEST_SKIP() << "no CAP_SYS_NICE here: " << ::testing::PrintToString(h.log.lines());
	EXPECT_EQ(p["tlsupd-accept"], SCHED_FIFO);
	EXPECT_EQ(p["tlsupd-w0"], SCHED_OTHER);
	EXPECT_TRUE(acceptor_said_realtime(h));
}

// acceptor_realtime = false: the acceptor leaves the unit's policy too.
TEST(Worker, AnAcceptorNotRealtimeLeavesAnInheritedPolicy) {
	WorkerRig h;
	if (!start_realtime(h, 1, false))
		GTEST_SKIP() << "cannot make a thread real-time here (needs CAP_SYS_NICE)";
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto p = thread_policies({"tlsupd-accept", "tlsupd-w0"}, SCHED_OTHER);
	EXPECT_EQ(p["tlsupd-accept"], SCHED_OTHER);
	EXPECT_EQ(p["tlsupd-w0"], SCHED_OTHER);
	EXPECT_FALSE(h.stats.snapshot().acceptor_realtime);
}

// [agent] worker_nice: each worker makes itself that much nicer, the
// acceptor stays at the process's priority, so in a storm READYs are
// ACCEPTed before busy workers' steps.
TEST(Worker, WorkersMakeThemselvesNicerThanTheAcceptor) {
	WorkerRig h;
	h.start(2, 5);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto nice = settled_nice({"tlsupd-w0", "tlsupd-w1"});
	ASSERT_TRUE(nice.count("tlsupd-accept") && nice.count("tlsupd-w0") &&
	            nice.count("tlsupd-w1"))
	        << nice.size() << " thread names";
	int base = nice["tlsupd-accept"];
	EXPECT_EQ(nice["tlsupd-w0"], std::min(base + 5, 19));
	EXPECT_EQ(nice["tlsupd-w1"], std::min(base + 5, 19));
	EXPECT_FALSE(h.log.contains("cannot lower")) << ::testing::PrintToString(h.log.lines());
	expect_a_handshake_through(h); // and the requests still get through
}

// A client request the acceptor began (alone, every worker idle) logs with
// the acceptor's log only while the acceptor has it: once the worker takes
// it over, the session's lines are the worker's, in order with its own.
TEST(Worker, AnEarlySessionLogsAsTheWorkerOnceItIsHandedOver) {
	WorkerRig h;
	CaptureLog acceptor;
	acceptor.log().set_level(kLogDebug);
	h.log.log().set_level(kLogDebug);
	h.acceptor_log = &acceptor.log();
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	Conn c = client_request(h.kernel);
	h.channels.back()->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	EXPECT_EQ(h.stats.snapshot().early_steps, 1u);
	// The session's verification line, after the hand-over: the worker's.
	EXPECT_TRUE(h.log.contains("the certificate names 'server.test'"))
	        << ::testing::PrintToString(h.log.lines());
	EXPECT_FALSE(acceptor.contains("the certificate names"))
	        << ::testing::PrintToString(acceptor.lines());
}

TEST(Worker, EachRequestWakesOneWorker) {
	WorkerRig h;
	h.start(2);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto wakeups = [&] {
		return std::vector<uint64_t>{h.workers[0]->loop().wakeups(),
		                             h.workers[1]->loop().wakeups()};
	};
	std::vector<unsigned> handled(2, 0);
	for (size_t i = 0; i < 10; i++) {
		std::this_thread::sleep_for(20ms); // the last request's worker is idle again
		auto before = wakeups();
		Conn c = client_request(h.kernel);
		// As the kernel multicasts READY to every socket in the group:
		// only the acceptor's joined it.
		for (auto *ch : h.channels)
			ch->notify_ready();
		ASSERT_TRUE(h.kernel.wait_dones(i + 1));
		EXPECT_EQ(c.peer->wait().ret, 0);
		std::this_thread::sleep_for(20ms);
		auto after = wakeups();
		unsigned woken = 0;
		for (size_t w = 0; w < 2; w++)
			if (after[w] != before[w]) {
				woken++;
				handled[w]++;
			}
		EXPECT_EQ(woken, 1u) << "request " << i;
	}
	// One at a time, both idle: the acceptor takes turns.
	EXPECT_EQ(handled[0], 5u);
	EXPECT_EQ(handled[1], 5u);
}

TEST(Worker, LostNotificationsStillAccept) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	Conn c = client_request(h.kernel);
	notify->notify_overrun(); // ENOBUFS: the READY itself was lost
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	EXPECT_EQ(h.stats.snapshot().overruns, 1u);
}

TEST(Worker, ReadyStormStrandsNothing) {
	WorkerRig h;
	auto notify = h.start(2);
	ASSERT_TRUE(h.kernel.wait_eagains(1)); // the start-up ACCEPT
	// 300 requests the agent must refuse (bad parameters) and 20 real
	// handshakes, announced by 600 READYs (fewer than the requests) and
	// overruns.
	std::vector<UniqueFd> peers;
	for (int i = 0; i < 300; i++) {
		auto fds = unix_pair();
		AcceptReply r;
		r.sockfd = fds.first.release();
		r.message_type = 7;
		h.kernel.submit(std::move(r));
		peers.push_back(std::move(fds.second));
	}
	std::vector<Conn> conns;
	for (int i = 0; i < 20; i++)
		conns.push_back(client_request(h.kernel));
	for (int i = 0; i < 600; i++) {
		notify->notify_ready();
		if (i % 100 == 0)
			notify->notify_overrun();
	}
	ASSERT_TRUE(h.kernel.wait_dones(320, 30s));
	unsigned einval = 0, ok = 0;
	for (const auto &d : h.kernel.done_copy()) {
		einval += d.status == EINVAL;
		ok += d.status == 0;
	}
	EXPECT_EQ(einval, 300u);
	EXPECT_EQ(ok, 20u) << [&] {
		std::string all;
		for (const auto &d : h.kernel.done_copy())
			if (d.status != 0 && d.status != EINVAL)
				all += "DONE status " + std::to_string(d.status) + "\n";
		for (const auto &l : h.log.lines())
			if (l.rfind("<7>", 0) != 0)
				all += l + "\n";
		return all;
	}();
	std::lock_guard lock(h.kernel.mu);
	EXPECT_TRUE(h.kernel.queue.empty());
}

TEST(Worker, InFlightBoundPausesAcceptAndResumes) {
	WorkerRig h(2);
	std::vector<Conn> conns;
	for (int i = 0; i < 6; i++)
		conns.push_back(client_request(h.kernel, stalling(), 200));
	auto t0 = Clock::now();
	h.start(2);
	ASSERT_TRUE(h.kernel.wait_dones(6));
	auto elapsed = Clock::now() - t0;
	for (const auto &d : h.kernel.done_copy())
		EXPECT_EQ(d.status, static_cast<uint32_t>(ETIMEDOUT));
	{
		std::lock_guard lock(h.kernel.mu);
		EXPECT_EQ(h.kernel.max_outstanding, 2u); // never more than the bound
		EXPECT_EQ(h.kernel.accepts, 6u);
	}
	EXPECT_GT(h.stats.snapshot().starved, 0u);
	EXPECT_GE(elapsed, 600ms); // three rounds of two
	// The slot is released just after DONE is sent.
	for (int i = 0; i < 100 && h.admission.inflight() != 0; i++)
		std::this_thread::sleep_for(10ms);
	EXPECT_EQ(h.admission.inflight(), 0u);
	for (auto &c : conns)
		c.peer->release_stall();
}

TEST(Worker, DeadlineComesFromTimeoutOrTheDefault) {
	WorkerRig h;
	h.settings.default_timeout_ms = 300;
	Conn fast = client_request(h.kernel, stalling(), 100); // TIMEOUT attribute
	Conn slow = client_request(h.kernel, stalling());      // default
	auto t0 = Clock::now();
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	auto first = Clock::now() - t0;
	ASSERT_TRUE(h.kernel.wait_dones(2));
	auto second = Clock::now() - t0;
	auto dones = h.kernel.done_copy();
	EXPECT_EQ(dones[0].sockfd, fast.agent_fd);
	EXPECT_EQ(dones[1].sockfd, slow.agent_fd);
	EXPECT_EQ(dones[0].status, static_cast<uint32_t>(ETIMEDOUT));
	EXPECT_EQ(dones[1].status, static_cast<uint32_t>(ETIMEDOUT));
	EXPECT_GE(first, 100ms);
	EXPECT_LT(first, 290ms);
	EXPECT_GE(second, 300ms);
	EXPECT_TRUE(h.log.contains("deadline of 100 ms passed"));
	EXPECT_TRUE(h.log.contains("deadline of 300 ms passed"));
	fast.peer->release_stall();
	slow.peer->release_stall();
}

TEST(Worker, MalformedAcceptIsCompletedWithEinvalThenClosed) {
	WorkerRig h;
	auto fds = unix_pair();
	AcceptDecode d;
	d.request.sockfd = fds.first.release();
	d.error = make_error(EINVAL, "attribute type 5 has bad length 99");
	h.kernel.submit(std::move(d));
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, static_cast<uint32_t>(EINVAL));
	EXPECT_TRUE(h.kernel.fd_open_at_done[0]);
	// Our copy goes after DONE: the far end sees the socket close.
	pollfd p{fds.second.get(), POLLIN, 0};
	ASSERT_EQ(::poll(&p, 1, 2000), 1);
	char c;
	EXPECT_EQ(::recv(fds.second.get(), &c, 1, 0), 0);
	EXPECT_TRUE(h.log.contains("<3>"));
	EXPECT_TRUE(h.log.contains("malformed ACCEPT: attribute type 5 has bad length 99"));
}

TEST(Worker, ReplyWithoutSocketIsLoggedAndReleased) {
	WorkerRig h(1);
	AcceptDecode d;
	d.error = make_error(EINVAL, "ACCEPT reply without SOCKFD");
	h.kernel.submit(std::move(d));
	Conn c = client_request(h.kernel); // needs the single slot afterwards
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy().size(), 1u);
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	EXPECT_TRUE(h.log.contains("ACCEPT reply without a socket"));
}

TEST(Worker, BadParametersAreEinval) {
	WorkerRig h;
	auto fds = unix_pair();
	h.kernel.submit(server_accept_reply(std::move(fds.first), HANDSHAKE_AUTH_UNAUTH));
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, static_cast<uint32_t>(EINVAL));
	EXPECT_TRUE(h.log.contains("handshake failed: EINVAL: server handshake with unsupported"));
}

TEST(Worker, KtlsFailureIsEio) {
	WorkerRig h;
	h.shared.install = install_ktls; // a unix socket has no kTLS
	Conn c = client_request(h.kernel);
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, static_cast<uint32_t>(EIO));
	EXPECT_TRUE(h.log.contains("handshake failed: EIO: kTLS: setsockopt(TCP_ULP"));
}

TEST(Worker, DoneCarriesThePskPeerId) {
	WorkerRig h;
	auto key = random_bytes(32);
	auto id = add_user_key("worker-client", key);
	auto fds = tcp_pair();
	AcceptReply r = server_accept_reply(std::move(fds.first), HANDSHAKE_AUTH_PSK);
	r.peer_identities = {id};
	h.kernel.submit(std::move(r));
	PeerOptions p;
	p.server = false;
	p.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+PSK";
	p.psk_identity = "worker-client";
	p.psk_key = key;
	Peer peer(std::move(fds.second), p);
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	auto d = h.kernel.done_copy()[0];
	EXPECT_EQ(d.status, 0u);
	EXPECT_EQ(d.remote_auth, std::vector<uint32_t>{static_cast<uint32_t>(id)});
	EXPECT_EQ(peer.wait().ret, 0);
}

TEST(Worker, ConcurrentMtlsServersEachGetTheirPeerId) {
	WorkerRig h;
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	h.creds.replace(make_credentials(spec));
	std::vector<std::unique_ptr<Peer>> peers;
	std::vector<int> fds;
	for (int i = 0; i < 8; i++) {
		auto pair = tcp_pair();
		// The accepted side: a server.
		AcceptReply r =
		        server_accept_reply(std::move(pair.second), HANDSHAKE_AUTH_X509, 10000);
		fds.push_back(r.sockfd);
		h.kernel.submit(std::move(r));
		PeerOptions p = client_peer("client");
		peers.push_back(std::make_unique<Peer>(std::move(pair.first), p));
	}
	h.start(2);
	ASSERT_TRUE(h.kernel.wait_dones(8));
	key_serial_t first = 0;
	for (const auto &d : h.kernel.done_copy()) {
		EXPECT_EQ(d.status, 0u);
		ASSERT_EQ(d.remote_auth.size(), 1u);
		EXPECT_NE(d.remote_auth[0], 0u);
		if (!first)
			first = static_cast<key_serial_t>(d.remote_auth[0]);
		EXPECT_EQ(static_cast<key_serial_t>(d.remote_auth[0]), first); // same client cert
	}
	for (auto &p : peers)
		EXPECT_EQ(p->wait().ret, 0);
}

// The PSK a server consumer provisioned in its own keyring serves that
// consumer's peers and no one else's, though the kernel links every
// consumer's keyring into the agent's process keyring, which all workers
// share; and each is unlinked again once its handshake is over.
std::vector<key_serial_t> process_keyring_contents() {
	void *raw = nullptr;
	int n = keyctl_read_alloc(KEY_SPEC_PROCESS_KEYRING, &raw);
	std::vector<key_serial_t> out;
	if (n > 0)
		out.assign(static_cast<key_serial_t *>(raw),
		           static_cast<key_serial_t *>(raw) + n / sizeof(key_serial_t));
	free(raw);
	return out;
}

void psk_stays_with_its_consumer(bool kernel_sends_keyring) {
	WorkerRig h(64, ReverseResolver::system_lookup, kernel_sends_keyring);
	key_serial_t ring_a = add_keyring("consumer A", KEY_SPEC_SESSION_KEYRING);
	key_serial_t ring_b = add_keyring("consumer B", KEY_SPEC_SESSION_KEYRING);
	auto key = random_bytes(32);
	auto psk_a = add_user_key("consumer-a-host", key, ring_a);
	LinkedKeyrings rings;
	rings.psk_keyrings = {ring_a, ring_b}; // both named for PSKs
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	h.creds.replace(make_credentials(spec));
	h.keyrings.replace(rings);

	std::vector<std::unique_ptr<Peer>> peers;
	std::vector<int> fds;
	// Every peer uses consumer A's identity and key.
	auto request = [&](key_serial_t ring) {
		auto pair = tcp_pair();
		AcceptReply r =
		        server_accept_reply(std::move(pair.second), HANDSHAKE_AUTH_PSK, 10000);
		fds.push_back(r.sockfd);
		h.kernel.submit(std::move(r), ring, kernel_sends_keyring);
		PeerOptions p;
		p.server = false;
		p.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+PSK";
		p.psk_identity = "consumer-a-host";
		p.psk_key = key;
		peers.push_back(std::make_unique<Peer>(std::move(pair.first), p));
	};
	request(ring_a); // A's peer
	request(ring_b); // B's
	request(0);      // a consumer without a keyring's
	request(ring_a); // A's again, after B's
	h.start(2);
	ASSERT_TRUE(h.kernel.wait_dones(4));
	auto status_of = [&](int fd) {
		for (const auto &d : h.kernel.done_copy())
			if (d.sockfd == fd)
				return d;
		return DoneCommand{};
	};
	EXPECT_EQ(status_of(fds[0]).status, 0u);
	EXPECT_EQ(status_of(fds[0]).remote_auth,
	          std::vector<uint32_t>{static_cast<uint32_t>(psk_a)});
	EXPECT_EQ(status_of(fds[1]).status, static_cast<uint32_t>(EKEYREJECTED));
	EXPECT_EQ(status_of(fds[2]).status, static_cast<uint32_t>(EKEYREJECTED));
	EXPECT_EQ(status_of(fds[3]).status, 0u);
	for (auto &p : peers)
		p->wait();
	for (key_serial_t k : process_keyring_contents()) {
		EXPECT_NE(k, ring_a) << "consumer A's keyring is still linked";
		EXPECT_NE(k, ring_b) << "consumer B's keyring is still linked";
	}
	keyctl_invalidate(ring_a);
	keyctl_invalidate(ring_b);
}

TEST(Worker, PskStaysWithItsConsumerWhenTheKernelNamesTheKeyring) {
	psk_stays_with_its_consumer(true); // tlsup.ko: KEYRING attribute
}

TEST(Worker, PskStaysWithItsConsumerWhenTheKernelDoesNotNameIt) {
	psk_stays_with_its_consumer(false); // upstream 6.12: no KEYRING
}

// Sockets of kinds the kernel consumers do not hand over, each connected to
// a peer that must not receive a byte.
struct OtherSocket {
	std::string kind;
	UniqueFd agent, peer;
};

std::optional<OtherSocket> udp_socket() {
	UniqueFd rx(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (bind(rx.get(), reinterpret_cast<sockaddr *>(&a), len) < 0 ||
	    getsockname(rx.get(), reinterpret_cast<sockaddr *>(&a), &len) < 0)
		return std::nullopt;
	UniqueFd tx(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	if (connect(tx.get(), reinterpret_cast<sockaddr *>(&a), len) < 0)
		return std::nullopt;
	return OtherSocket{"UDP", std::move(tx), std::move(rx)};
}

std::optional<OtherSocket> stream_socket(int protocol, const char *kind) {
	UniqueFd lst(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, protocol));
	if (!lst.valid())
		return std::nullopt; // this kernel has no such protocol
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (bind(lst.get(), reinterpret_cast<sockaddr *>(&a), len) < 0 ||
	    listen(lst.get(), 1) < 0 ||
	    getsockname(lst.get(), reinterpret_cast<sockaddr *>(&a), &len) < 0)
		return std::nullopt;
	UniqueFd c(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, protocol));
	if (connect(c.get(), reinterpret_cast<sockaddr *>(&a), len) < 0)
		return std::nullopt;
	UniqueFd s(accept4(lst.get(), nullptr, nullptr, SOCK_CLOEXEC));
	return OtherSocket{kind, std::move(c), std::move(s)};
}

TEST(Worker, ASocketThatIsNotTcpIsEopnotsuppBeforeAnyByte) {
	std::vector<OtherSocket> sockets;
	if (auto u = udp_socket())
		sockets.push_back(std::move(*u));
	auto unix_sock = unix_pair();
	sockets.push_back({"unix", std::move(unix_sock.first), std::move(unix_sock.second)});
	if (auto m = stream_socket(262 /* IPPROTO_MPTCP */, "MPTCP"))
		sockets.push_back(std::move(*m));
	else
		std::printf("# no MPTCP on this kernel: not tried\n");
	if (auto q = stream_socket(261 /* IPPROTO_QUIC */, "QUIC"))
		sockets.push_back(std::move(*q));
	else
		std::printf("# no QUIC on this kernel: not tried\n");
	ASSERT_GE(sockets.size(), 2u);

	WorkerRig h;
	std::vector<int> fds;
	for (uint32_t type : {HANDSHAKE_MSG_TYPE_CLIENTHELLO, HANDSHAKE_MSG_TYPE_SERVERHELLO})
		for (auto &sock : sockets) {
			AcceptReply r;
			r.sockfd = dup(sock.agent.get());
			r.message_type = type;
			r.auth_mode = type == HANDSHAKE_MSG_TYPE_CLIENTHELLO ? HANDSHAKE_AUTH_UNAUTH
			                                                     : HANDSHAKE_AUTH_X509;
			r.peername = "server.test";
			fds.push_back(r.sockfd);
			h.kernel.submit(std::move(r));
		}
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(fds.size()));
	for (const auto &d : h.kernel.done_copy())
		EXPECT_EQ(d.status, static_cast<uint32_t>(EOPNOTSUPP));
	EXPECT_TRUE(h.log.contains("is not TCP over IPv4/IPv6"));
	for (auto &sock : sockets) {
		char c;
		EXPECT_LT(::recv(sock.peer.get(), &c, 1, MSG_DONTWAIT), 0)
		        << sock.kind << " peer got a byte";
	}
}

ReverseResolver::Names answer_server_test(const sockaddr_storage &addr) {
	if (address_text(addr).value_or("") != "127.0.0.1")
		return make_error(EACCES, "unexpected address");
	return std::vector<std::string>{"server.test"};
}

Conn tcp_client_request(FakeKernel &k, const char *cert) {
	auto fds = tcp_pair();
	PeerOptions p;
	p.cert = p.key = cert;
	AcceptReply r;
	r.sockfd = fds.first.release();
	r.message_type = HANDSHAKE_MSG_TYPE_CLIENTHELLO;
	r.auth_mode = HANDSHAKE_AUTH_UNAUTH; // no PEERNAME
	int fd = r.sockfd;
	k.submit(std::move(r));
	return {std::make_unique<Peer>(std::move(fds.second), p), fd};
}

TEST(Worker, ReverseDnsIsOffByDefault) {
	std::atomic<int> lookups{0};
	WorkerRig h(64, [&lookups](const sockaddr_storage &a) {
		lookups++;
		return answer_server_test(a);
	});
	Conn c = tcp_client_request(h.kernel, "server-noip");
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, static_cast<uint32_t>(EACCES));
	EXPECT_EQ(lookups.load(), 0);
	EXPECT_TRUE(h.log.contains("reverse DNS name matching is off"));
}

TEST(Worker, ReverseDnsRunsOnTheHelperThread) {
	std::thread::id helper;
	WorkerRig h(64, [&helper](const sockaddr_storage &a) {
		helper = std::this_thread::get_id();
		return answer_server_test(a);
	});
	h.settings.reverse_dns = true;
	Conn c = tcp_client_request(h.kernel, "server-noip");
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	EXPECT_NE(helper, std::thread::id());
	EXPECT_NE(helper, std::this_thread::get_id());
}

TEST(Worker, SlowReverseDnsIsBoundedAndDoesNotBlockTheLoop) {
	WorkerRig h(64, [](const sockaddr_storage &a) {
		std::this_thread::sleep_for(1500ms);
		return answer_server_test(a);
	});
	h.settings.reverse_dns = true;
	h.settings.reverse_dns_timeout_ms = 100;
	Conn slow = tcp_client_request(h.kernel, "server-noip");
	auto notify = h.start(1);
	std::this_thread::sleep_for(30ms);
	// While the resolver is stuck, another handshake completes.
	Conn other = client_request(h.kernel);
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(2, 5s));
	auto dones = h.kernel.done_copy();
	auto find = [&](int fd) {
		for (const auto &d : dones)
			if (d.sockfd == fd)
				return static_cast<int>(d.status);
		return -1;
	};
	EXPECT_EQ(find(slow.agent_fd), EACCES);
	EXPECT_EQ(find(other.agent_fd), 0);
	EXPECT_TRUE(h.log.contains("reverse DNS failed: no answer within 100 ms"));
}

TEST(Worker, AQueuedLookupGoesWithItsRequest) {
	// The only resolver thread is stuck; the second request's lookup waits
	// in the queue until its deadline completes the request, and is then
	// dropped: it never runs.
	std::mutex mu;
	std::condition_variable cv;
	bool release = false;
	std::atomic<int> lookups{0};
	WorkerRig h(64, [&](const sockaddr_storage &a) {
		lookups++;
		std::unique_lock lock(mu);
		cv.wait(lock, [&] { return release; });
		return answer_server_test(a);
	});
	h.settings.reverse_dns = true;
	h.settings.reverse_dns_timeout_ms = 60000;
	h.settings.default_timeout_ms = 200;
	Conn first = tcp_client_request(h.kernel, "server-noip");
	Conn second = tcp_client_request(h.kernel, "server-noip");
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(2, 5s));
	for (const auto &d : h.kernel.done_copy())
		EXPECT_EQ(d.status, static_cast<uint32_t>(ETIMEDOUT));
	EXPECT_EQ(h.resolver->queued(), 0u);
	EXPECT_EQ(h.resolver->dropped(), 1u);
	{
		std::lock_guard lock(mu);
		release = true;
	}
	cv.notify_all();
	std::this_thread::sleep_for(50ms);
	EXPECT_EQ(lookups.load(), 1);
}

TEST(Worker, StopCompletesWhatIsInFlight) {
	WorkerRig h;
	Conn c = client_request(h.kernel, stalling(), 60000);
	h.start(1);
	for (int i = 0; i < 100 && h.workers[0]->jobs() == 0; i++)
		std::this_thread::sleep_for(10ms);
	ASSERT_EQ(h.workers[0]->jobs(), 1u);
	h.workers[0]->stop();
	ASSERT_TRUE(h.kernel.wait_dones(1, 1s));
	EXPECT_EQ(h.kernel.done_copy()[0].status, static_cast<uint32_t>(ETIMEDOUT));
	EXPECT_TRUE(h.log.contains("agent shutting down"));
	c.peer->release_stall();
}

TEST(Worker, StatsCountByStatusAndLatency) {
	WorkerRig h;
	Conn ok = client_request(h.kernel);
	PeerOptions rogue;
	rogue.cert = rogue.key = "rogue-server";
	Conn bad = client_request(h.kernel, rogue);
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(2));
	auto s = h.stats.snapshot();
	EXPECT_EQ(s.done[0], 1u); // ok
	EXPECT_EQ(s.done[1], 1u); // EACCES
	EXPECT_EQ(s.accepted, 2u);
	EXPECT_GT(LatencyHistogram::quantile(s.latency, 0.99), 0u);
	EXPECT_TRUE(h.log.contains("handshake failed: EACCES: peer certificate rejected"));
}

// ---- the client's first step in the acceptor (start_early()) ----

// Until the stats say N first steps were the acceptor's, 5 s at most.
bool wait_early_steps(WorkerRig &h, uint64_t n) {
	for (int i = 0; i < 500 && h.stats.snapshot().early_steps < n; i++)
		std::this_thread::sleep_for(10ms);
	return h.stats.snapshot().early_steps == n;
}

// A client x509 request to server.test for SOCK (the agent's end).
AcceptReply client_x509_reply(UniqueFd sock, uint32_t timeout_ms) {
	AcceptReply r;
	r.sockfd = sock.release();
	r.message_type = HANDSHAKE_MSG_TYPE_CLIENTHELLO;
	r.auth_mode = HANDSHAKE_AUTH_X509;
	r.peername = "server.test";
	r.timeout_ms = timeout_ms;
	return r;
}

// One client request at a time, a worker idle: the acceptor sends the
// ClientHello before the hand-over, and the worker, woken by the server's
// answer, completes the handshake. Two workers: the one that sent the
// last DONE may not have counted its job off yet; the other is idle.
TEST(Worker, AnIdleWorkersClientRequestBeginsInTheAcceptor) {
	WorkerRig h;
	auto notify = h.start(2);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	for (size_t i = 0; i < 4; i++) {
		Conn c = client_request(h.kernel);
		notify->notify_ready();
		ASSERT_TRUE(h.kernel.wait_dones(i + 1));
		EXPECT_EQ(c.peer->wait().ret, 0) << c.peer->wait().error;
		EXPECT_EQ(h.kernel.done_copy()[i].status, 0u) << "request " << i;
	}
	EXPECT_EQ(h.stats.snapshot().early_steps, 4u);
	EXPECT_EQ(h.installs.load(), 4);
}

// A worker counts its request off before the DONE: the consumer's next
// request may come as soon as the kernel has the DONE, and take the CPU
// before the worker's last lines; the acceptor must find it idle then.
TEST(Worker, AWorkerIsIdleForTheAcceptorOnceItsDoneIsOut) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	std::vector<size_t> jobs_at_done; // under kernel.mu
	{
		std::lock_guard lock(h.kernel.mu);
		h.kernel.on_done = [&] { jobs_at_done.push_back(h.workers[0]->jobs()); };
	}
	Conn c = client_request(h.kernel);
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(c.peer->wait().ret, 0);
	std::lock_guard lock(h.kernel.mu);
	EXPECT_EQ(jobs_at_done, std::vector<size_t>{0});
	h.kernel.on_done = nullptr;
}

// A storm: the READYs read together are ACCEPTed together, and every step
// is a worker's -- the acceptor spends nothing on handshakes while the
// kernel's queue may still hold requests.
TEST(Worker, AStormsRequestsAreAllBegunByTheWorkers) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	std::vector<Conn> conns;
	for (int i = 0; i < 6; i++)
		conns.push_back(client_request(h.kernel));
	notify->notify_ready(6);
	ASSERT_TRUE(h.kernel.wait_dones(6));
	for (auto &c : conns)
		EXPECT_EQ(c.peer->wait().ret, 0);
	for (const auto &d : h.kernel.done_copy())
		EXPECT_EQ(d.status, 0u);
	EXPECT_EQ(h.stats.snapshot().early_steps, 0u);
}

// Any worker busy: requests are coming faster than one at a time, and the
// acceptor begins nothing, even for an idle worker (the next READY must not
// wait for a ClientHello).
TEST(Worker, WhileAnyWorkerIsBusyTheWorkersBeginEveryRequest) {
	WorkerRig h;
	auto notify = h.start(2);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	Conn stalled = client_request(h.kernel, stalling(), 60000);
	notify->notify_ready();
	ASSERT_TRUE(wait_early_steps(h, 1)); // the first: every worker was idle
	// Counted before the hand-over: wait for a worker to hold it.
	for (int i = 0; i < 500 && h.workers[0]->jobs() + h.workers[1]->jobs() == 0; i++)
		std::this_thread::sleep_for(10ms);
	ASSERT_EQ(h.workers[0]->jobs() + h.workers[1]->jobs(), 1u);
	for (size_t i = 0; i < 2; i++) {
		Conn c = client_request(h.kernel); // goes to the idle worker
		notify->notify_ready();
		ASSERT_TRUE(h.kernel.wait_dones(i + 1));
		EXPECT_EQ(h.kernel.done_copy()[i].status, 0u);
		EXPECT_EQ(c.peer->wait().ret, 0);
	}
	EXPECT_EQ(h.stats.snapshot().early_steps, 1u);
	for (auto &w : h.workers)
		w->stop();
	stalled.peer->release_stall();
}

// A burst while a worker is busy (a request of 60 s stalls one of H's two
// workers): N client requests queued, a READY for the first, and each of
// the first N-1 ACCEPTs signals the next one's READY (the kernel submitting
// while the acceptor ACCEPTs). Returns how many requests the workers held
// at each ACCEPT -- 1, the stalled one, while nothing else is handed over.
std::vector<size_t> burst_while_a_worker_is_busy(WorkerRig &h, FakeChannel &notify, size_t n) {
	auto handed = [&] { return h.workers[0]->jobs() + h.workers[1]->jobs(); };
	size_t dones = h.kernel.done_copy().size();
	Conn stalled = client_request(h.kernel, stalling(), 60000);
	notify.notify_ready();
	for (int i = 0; i < 500 && handed() == 0; i++)
		std::this_thread::sleep_for(10ms);
	EXPECT_EQ(handed(), 1u);
	std::vector<size_t> handed_at_accept; // under kernel.mu
	std::vector<Conn> conns;
	for (size_t i = 0; i < n; i++)
		conns.push_back(client_request(h.kernel));
	{
		std::lock_guard lock(h.kernel.mu);
		h.kernel.on_accept = [&] {
			handed_at_accept.push_back(handed());
			if (handed_at_accept.size() < n)
				notify.notify_ready(); // the next one's, during this ACCEPT
		};
	}
	notify.notify_ready(); // the first's
	EXPECT_TRUE(h.kernel.wait_dones(dones + n));
	for (auto &c : conns)
		EXPECT_EQ(c.peer->wait().ret, 0);
	std::vector<size_t> out;
	{
		std::lock_guard lock(h.kernel.mu);
		h.kernel.on_accept = nullptr;
		out = handed_at_accept;
	}
	for (auto &w : h.workers)
		w->stop();
	stalled.peer->release_stall();
	return out;
}

// A burst the kernel submits one request at a time (nvmet's accept loop): a
// READY that comes while the acceptor ACCEPTs is read and ACCEPTed before
// anything is handed over -- the kernel refuses submissions while its bound
// of requests not yet ACCEPTed is full, and a hand-over, a worker's wake-up
// and another epoll round would keep it full. Only while a worker is busy;
// a lone request costs no second read.
TEST(Worker, AReadyThatComesWhileTheAcceptorAcceptsIsTakenBeforeAnyHandOver) {
	WorkerRig h;
	auto notify = h.start(2);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	// Alone, with every worker idle: one read of READYs (no burst).
	unsigned drains = notify->drains();
	Conn lone = client_request(h.kernel);
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(lone.peer->wait().ret, 0);
	EXPECT_EQ(notify->drains(), drains + 1);
	EXPECT_EQ(h.stats.snapshot().burst_readies, 0u);
	// A worker busy: both ACCEPTed while only the stalled request was
	// handed over.
	EXPECT_EQ(burst_while_a_worker_is_busy(h, *notify, 2), (std::vector<size_t>{1, 1}));
	EXPECT_GE(h.stats.snapshot().burst_readies, 1u);
}

// The re-read goes on while READYs keep coming: one that comes during the
// ACCEPT a re-read owed is taken before any hand-over too.
TEST(Worker, ReadyAfterReadyWhileTheAcceptorAcceptsAreAllTakenBeforeAnyHandOver) {
	WorkerRig h;
	auto notify = h.start(2);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	EXPECT_EQ(burst_while_a_worker_is_busy(h, *notify, 3), (std::vector<size_t>{1, 1, 1}));
}

// READYs that never stop coming (a flood faster than ACCEPT) do not keep
// what was taken from the workers: the re-reads are bounded, the requests
// taken so far are handed over and the loop gets its turn.
TEST(Worker, AnEndlessBurstStillHandsOver) {
	WorkerRig h;
	auto notify = h.start(2);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	constexpr size_t kFlood = 40;
	auto handed_at_accept = burst_while_a_worker_is_busy(h, *notify, kFlood);
	ASSERT_EQ(handed_at_accept.size(), kFlood);
	EXPECT_GT(handed_at_accept.back(), 1u); // something handed over meanwhile
}

// A read of the notifications that fails took the READYs it read with it:
// no edge comes for them again, so the acceptor ACCEPTs until the kernel's
// queue is empty, as after lost notifications.
TEST(Worker, AFailedReadOfTheNotificationsStillAccepts) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	Conn c = client_request(h.kernel);
	notify->fail_next_drain();
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1, 10s));
	EXPECT_EQ(c.peer->wait().ret, 0);
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
}

// A server's first step would sign; it stays the worker's.
TEST(Worker, AServerRequestIsBegunByItsWorker) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	EXPECT_EQ(server_psk_status(h.kernel, *notify, "nobody-knows-me",
	                            std::vector<uint8_t>(32, 7)),
	          static_cast<uint32_t>(EKEYREJECTED));
	EXPECT_EQ(h.stats.snapshot().early_steps, 0u);
}

// The acceptor's first step fails (the request names a revoked key): the
// worker still gets the request, at once, and sends its one DONE with the
// engine's status -- not the deadline's, and not a second one.
TEST(Worker, AFirstStepThatFailsInTheAcceptorIsCompletedByTheWorker) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto cert = add_user_key("early cert", Pki::get().cert_der("client"));
	auto key = add_user_key("early key", Pki::get().key_der("client"));
	ASSERT_EQ(keyctl_revoke(key), 0);
	auto fds = tcp_pair();
	AcceptReply r = client_x509_reply(std::move(fds.first), 60000);
	r.certificates = {{cert, key}};
	h.kernel.submit(std::move(r));
	Peer peer(std::move(fds.second), stalling()); // nothing from the peer wakes the worker
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1, 10s));
	EXPECT_EQ(h.kernel.done_copy()[0].status, static_cast<uint32_t>(ENOKEY));
	EXPECT_EQ(h.stats.snapshot().early_steps, 1u);
	std::this_thread::sleep_for(50ms);
	std::lock_guard lock(h.kernel.mu);
	EXPECT_EQ(h.kernel.dones.size(), 1u);
	EXPECT_TRUE(h.kernel.fd_open_at_done[0]);
	peer.release_stall();
}

// A first step that fails in the acceptor before its session exists (the
// certificate's key is revoked) leaves the request holding the credentials
// it used: a reload in between would otherwise have made the acceptor's
// the last reference, and freeing credentials (a PKCS#11 session closed,
// every certificate freed) is no work for the real-time thread. The
// worker lets them go with the request.
TEST(Worker, AFirstStepThatFailsLeavesItsCredentialsToTheWorker) {
	WorkerRig h;
	auto priorities = Priorities::create();
	ASSERT_TRUE(priorities) << priorities.error().reason;
	auto cert = add_user_key("early cert", Pki::get().cert_der("client"));
	auto key = add_user_key("early key", Pki::get().key_der("client"));
	ASSERT_EQ(keyctl_revoke(key), 0);
	auto fds = tcp_pair();
	AcceptedRequest request;
	request.decoded.request = client_x509_reply(std::move(fds.first), 60000);
	request.decoded.request.certificates = {{cert, key}};
	UniqueFd sock(request.decoded.request.sockfd);
	request.socket = inspect_handed_socket(sock.get());
	std::weak_ptr<const Credentials> used = h.creds.snapshot();
	ASSERT_FALSE(used.expired());
	ASSERT_TRUE(start_early(h.shared, *priorities.value(), request));
	ASSERT_TRUE(request.early_failure);
	EXPECT_EQ(request.early_failure->code, ENOKEY) << request.early_failure->reason;
	EXPECT_FALSE(request.session);
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	h.creds.replace(make_credentials(spec)); // the reload
	EXPECT_FALSE(used.expired()) << "the acceptor let the last reference go";
	request = AcceptedRequest{}; // the worker's end of it
	EXPECT_TRUE(used.expired());
}

// Whatever a reload does meanwhile, no Credentials is ever freed
// on the thread that runs start_early() (the acceptor): a reloader thread
// replaces them without pause while start_early() runs, its first step
// failing both ways (no identity: the session is not set up; a socket
// shut for writing: the step fails), and the request goes to another
// thread, as to a worker.
static std::atomic<int> g_freed_on_acceptor{0};
TEST(Worker, NoCredentialsAreFreedOnTheAcceptorWhileReloadsGoOn) {
	g_freed_on_acceptor = 0;
	std::thread::id acceptor = std::this_thread::get_id();
	auto tagged = [acceptor] {
		return std::shared_ptr<const Credentials>(
		        new Credentials{}, [acceptor](const Credentials *c) {
			        if (std::this_thread::get_id() == acceptor)
				        g_freed_on_acceptor++;
			        delete c;
		        });
	};
	WorkerRig h;
	auto priorities = Priorities::create();
	ASSERT_TRUE(priorities) << priorities.error().reason;
	h.creds.replace(tagged());
	std::atomic<bool> stop{false};
	std::atomic<unsigned> reloads{0};
	std::thread reloader([&] {
		while (!stop) {
			h.creds.replace(tagged());
			reloads++;
		}
	});
	unsigned early = 0, failed_create = 0, failed_step = 0;
	for (int i = 0; i < 400; i++) {
		auto fds = tcp_pair();
		AcceptedRequest request;
		request.decoded.request = client_x509_reply(std::move(fds.first), 60000);
		if (i % 2)
			request.decoded.request.auth_mode = HANDSHAKE_AUTH_UNAUTH;
		int fd = request.decoded.request.sockfd;
		::shutdown(fd, SHUT_WR);
		request.socket = inspect_handed_socket(fd);
		if (start_early(h.shared, *priorities.value(), request))
			early++;
		if (request.early_failure && !request.session)
			failed_create++;
		else if (request.early_failure)
			failed_step++;
		std::thread([r = std::move(request), fd]() mutable {
			r = AcceptedRequest{};
			::close(fd);
		}).join();
	}
	stop = true;
	reloader.join();
	EXPECT_EQ(early, 400u);
	EXPECT_GT(failed_create, 0u);
	EXPECT_GT(failed_step, 0u);
	EXPECT_GT(reloads.load(), 100u);
	EXPECT_EQ(g_freed_on_acceptor.load(), 0) << reloads.load() << " reloads";
}

// A server request the per-peer bound refuses is answered by the acceptor
// (DONE, EACCES), but its socket is let go on a worker: the consumer may
// drop its own reference inside DONE, and then the agent's close is a TCP
// teardown, no work for the real-time thread in a flood of refusals. With
// the only worker held busy, the refused socket stays open after its DONE
// until that worker runs.
TEST(Worker, ARefusedRequestsSocketIsClosedOnAWorker) {
	WorkerRig h(2); // crowded once both slots are taken
	PeerLimit limit(1);
	h.shared.peer_limit = &limit;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	std::promise<void> release;
	std::shared_future<void> released = release.get_future().share();
	std::promise<void> holding;
	h.workers[0]->loop().post([released, &holding] {
		holding.set_value();
		released.wait();
	});
	holding.get_future().wait();
	auto server_request = [&](UniqueFd sock) {
		AcceptReply r;
		r.sockfd = sock.release();
		r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
		r.auth_mode = HANDSHAKE_AUTH_X509;
		r.timeout_ms = 60000;
		int fd = r.sockfd;
		h.kernel.submit(std::move(r));
		return fd;
	};
	auto first = tcp_pair();  // admitted, waits for the held worker
	auto second = tcp_pair(); // the same peer, both slots taken: refused
	server_request(std::move(first.second));
	server_request(std::move(second.second));
	notify->notify_ready(2);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, static_cast<uint32_t>(EACCES));
	std::this_thread::sleep_for(50ms); // the acceptor is past its DONE
	// Seen from the peer (not by asking the descriptor number another
	// thread closes): the socket's last close sends a FIN.
	pollfd peer{second.first.get(), POLLRDHUP, 0};
	EXPECT_EQ(poll(&peer, 1, 0), 0) << "closed on the acceptor";
	release.set_value();
	bool closed = poll(&peer, 1, 5000) == 1 && (peer.revents & (POLLRDHUP | POLLHUP));
	EXPECT_TRUE(closed) << "the worker never let it go";
	for (auto &w : h.workers)
		w->stop();
}

// Begun in the acceptor, the socket is watched for reads only; a later
// flight that goes in pieces (a 40 KB client certificate into a peer with
// a small window) needs EPOLLOUT for the rest, or it waits for the
// deadline.
TEST(Worker, ALaterFlightInPiecesAfterAnEarlyStepIsSentWhole) {
	std::string big = big_certificate();
	ASSERT_FALSE(big.empty());
	WorkerRig h;
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	spec.client_cert = spec.client_key = big;
	h.creds.replace(make_credentials(spec));
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto fds = tcp_pair(false, 2048);
	int small = 4096;
	ASSERT_EQ(setsockopt(fds.first.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	h.kernel.submit(client_x509_reply(std::move(fds.first), 10000));
	PeerOptions p = server_peer("server");
	p.request_client_cert = true;
	Peer peer(std::move(fds.second), p);
	notify->notify_ready();
	ASSERT_TRUE(h.kernel.wait_dones(1, 15s));
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	EXPECT_EQ(h.stats.snapshot().early_steps, 1u);
	auto out = peer.wait();
	EXPECT_EQ(out.ret, 0) << out.error;
	EXPECT_TRUE(out.saw_client_certificate);
}

// The acceptor's ClientHello finds no room (the consumer's socket holds
// unsent bytes, the peer reads nothing yet): the rest of it is the
// worker's to send once there is room, so the worker must be woken by the
// writable socket, not only by the peer's answer -- which never comes to
// a ClientHello the server has not seen.
TEST(Worker, AnEarlyClientHelloThatFindsNoRoomIsSentOnceThereIsRoom) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto fds = tcp_pair(false, 2048);
	int small = 4096;
	ASSERT_EQ(setsockopt(fds.first.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	// Fill the way to the peer: the ClientHello goes nowhere at first.
	std::vector<char> junk(1024, 'x');
	size_t queued = 0;
	for (;;) {
		ssize_t n = ::send(fds.first.get(), junk.data(), junk.size(), MSG_DONTWAIT);
		if (n <= 0)
			break;
		queued += static_cast<size_t>(n);
	}
	ASSERT_GT(queued, 0u);
	AcceptReply r = client_x509_reply(std::move(fds.first), 8000);
	r.auth_mode = HANDSHAKE_AUTH_UNAUTH; // no client certificate to find
	h.kernel.submit(std::move(r));
	notify->notify_ready();
	ASSERT_TRUE(wait_early_steps(h, 1));
	{
		std::lock_guard lock(h.kernel.mu);
		ASSERT_TRUE(h.kernel.dones.empty())
		        << "failed in the acceptor: " << h.kernel.dones[0].status;
	}
	// The worker holds it (counted before the hand-over).
	for (int i = 0; i < 500 && h.workers[0]->jobs() == 0; i++)
		std::this_thread::sleep_for(10ms);
	std::this_thread::sleep_for(100ms);
	// The peer takes the consumer's bytes: now there is room, and only the
	// writable socket says so.
	for (size_t got = 0; got < queued;) {
		ssize_t n = ::recv(fds.second.get(), junk.data(),
		                   std::min(junk.size(), queued - got), 0);
		ASSERT_GT(n, 0) << strerror(errno);
		got += static_cast<size_t>(n);
	}
	Peer peer(std::move(fds.second), server_peer("server"));
	ASSERT_TRUE(h.kernel.wait_dones(1, 15s));
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	auto out = peer.wait();
	EXPECT_EQ(out.ret, 0) << out.error;
}

// The acceptor's first step fails on the socket itself (the consumer shut
// it for writing: the ClientHello's send fails) while the peer stays
// silent: the worker must learn of it at once from the writable socket and
// send the engine's status, not wait for the deadline's ETIMEDOUT.
TEST(Worker, AnEarlySendThatFailsIsCompletedAtOnceNotAtTheDeadline) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto fds = tcp_pair();
	ASSERT_EQ(::shutdown(fds.first.get(), SHUT_WR), 0);
	AcceptReply r = client_x509_reply(std::move(fds.first), 30000);
	r.auth_mode = HANDSHAKE_AUTH_UNAUTH; // the session begins; its send fails
	h.kernel.submit(std::move(r));
	Peer peer(std::move(fds.second), stalling());
	notify->notify_ready();
	bool done = h.kernel.wait_dones(1, 5s);
	EXPECT_EQ(h.stats.snapshot().early_steps, 1u);
	peer.release_stall();
	ASSERT_TRUE(done) << "no DONE within 5 s (deadline 30 s)";
	// A broken socket is ETIMEDOUT on the wire too (as upstream's tlshd
	// says it); the log tells the engine's failure from the deadline.
	EXPECT_NE(h.kernel.done_copy()[0].status, 0u);
	EXPECT_FALSE(h.log.contains("deadline of")) << ::testing::PrintToString(h.log.lines());
	EXPECT_TRUE(h.log.contains("Broken pipe") || h.log.contains("EPIPE"))
	        << ::testing::PrintToString(h.log.lines());
	std::this_thread::sleep_for(50ms);
	std::lock_guard lock(h.kernel.mu);
	EXPECT_EQ(h.kernel.dones.size(), 1u);
}

// The acceptor's first step sends the ClientHello and reads nothing: bytes
// a peer sends before it (here a fatal alert) are the worker's to parse,
// never the acceptor's, whose thread must not spend time on what a peer
// chose. The worker is kept busy meanwhile (a stalled loop), so what the
// socket still holds after the acceptor's step is what the acceptor left.
TEST(Worker, TheAcceptorsFirstStepReadsNothingThePeerSent) {
	WorkerRig h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	auto fds = tcp_pair();
	const uint8_t alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
	ASSERT_EQ(::send(fds.second.get(), alert, sizeof(alert), 0),
	          static_cast<ssize_t>(sizeof(alert)));
	int agent_fd = fds.first.get();
	std::promise<void> stalled;
	std::atomic<bool> release{false};
	h.workers[0]->loop().post([&] {
		stalled.set_value();
		for (int i = 0; i < 500 && !release; i++)
			std::this_thread::sleep_for(10ms);
	});
	stalled.get_future().wait();
	AcceptReply r = client_x509_reply(std::move(fds.first), 10000);
	r.auth_mode = HANDSHAKE_AUTH_UNAUTH;
	h.kernel.submit(std::move(r));
	notify->notify_ready();
	bool early = wait_early_steps(h, 1);
	for (int i = 0; i < 500 && h.workers[0]->jobs() == 0; i++)
		std::this_thread::sleep_for(10ms);
	int unread = -1;
	int queued = ioctl(agent_fd, FIONREAD, &unread);
	pollfd hello{fds.second.get(), POLLIN, 0};
	int sent = ::poll(&hello, 1, 0);
	release = true;
	ASSERT_TRUE(early);
	ASSERT_EQ(queued, 0) << strerror(errno);
	EXPECT_EQ(unread, static_cast<int>(sizeof(alert))) << "the acceptor took the peer's bytes";
	EXPECT_EQ(sent, 1) << "no ClientHello from the acceptor";
	ASSERT_TRUE(h.kernel.wait_dones(1, 5s));
	EXPECT_NE(h.kernel.done_copy()[0].status, 0u);
	std::this_thread::sleep_for(50ms);
	std::lock_guard lock(h.kernel.mu);
	EXPECT_EQ(h.kernel.dones.size(), 1u);
}

} // namespace
} // namespace tlsup::test
