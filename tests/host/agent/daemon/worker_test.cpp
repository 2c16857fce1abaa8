// SPDX-License-Identifier: GPL-2.0
//
// Workers against a fake kernel channel: ACCEPT at start-up and until
// -EAGAIN, READY storms and lost notifications, the in-flight bound,
// deadlines, reverse DNS on the helper thread, and the DONE each request
// gets (status, remote peer ids, the agent's fd closed only afterwards).
#include <condition_variable>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
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

class WorkerHarness {
public:
	explicit WorkerHarness(unsigned limit = 64,
	                       ReverseResolver::Lookup lookup = ReverseResolver::system_lookup,
	                       bool tlsup_ko = false)
	    : admission(limit), resolver(std::make_unique<ReverseResolver>(1, std::move(lookup))),
	      accept_keyrings(AcceptKeyrings::create(log.log(), tlsup_ko).value()),
	      shared{log.log(), creds,    keyrings,    admission,       stats,
	             *resolver, settings, peer_keys(), *accept_keyrings} {
		// As the agent does before its threads start: one process keyring
		// shared by every worker (see ensure_process_keyring()).
		EXPECT_TRUE(ensure_process_keyring().ok());
		ConfigSpec spec;
		spec.server_cert = spec.server_key = "server";
		creds.replace(make_credentials(spec));
		shared.install = [this](int, const TrafficSecrets &t) -> Result<void> {
			installs++;
			EXPECT_TRUE(ktls_supports(t.cipher));
			return {};
		};
	}
	~WorkerHarness() {
		if (acceptor)
			acceptor->stop();
		for (auto &w : workers)
			w->stop();
		acceptor.reset();
		resolver.reset();
		workers.clear();
	}

	// N workers (each with a channel for its DONEs) and the acceptor; the
	// acceptor's channel, where READY goes.
	FakeChannel *start(unsigned n) {
		std::vector<Worker *> raw;
		for (unsigned i = 0; i < n; i++) {
			auto ch = std::make_unique<FakeChannel>(kernel);
			channels.push_back(ch.get());
			auto w = Worker::create(i, shared, std::move(ch));
			EXPECT_TRUE(w.ok());
			workers.push_back(std::move(w).value());
			raw.push_back(workers.back().get());
		}
		auto ch = std::make_unique<FakeChannel>(kernel);
		FakeChannel *notify = ch.get();
		channels.push_back(notify);
		auto a = Acceptor::create(shared, std::move(ch), raw);
		EXPECT_TRUE(a.ok());
		acceptor = std::move(a).value();
		for (auto &w : workers)
			w->start();
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
	std::atomic<int> installs{0};
	std::vector<std::unique_ptr<Worker>> workers;
	std::unique_ptr<Acceptor> acceptor;
	std::vector<FakeChannel *> channels; // the workers', then the acceptor's
};

PeerOptions stalling() {
	PeerOptions p;
	p.misbehave = PeerOptions::Misbehave::Stall;
	return p;
}

TEST(Worker, AcceptsAtStartupWhatWasQueuedBefore) {
	WorkerHarness h;
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
	WorkerHarness h;
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
	WorkerHarness h;
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

TEST(Worker, EachRequestWakesOneWorker) {
	WorkerHarness h;
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
	WorkerHarness h;
	auto notify = h.start(1);
	ASSERT_TRUE(h.kernel.wait_eagains(1));
	Conn c = client_request(h.kernel);
	notify->notify_overrun(); // ENOBUFS: the READY itself was lost
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, 0u);
	EXPECT_EQ(h.stats.snapshot().overruns, 1u);
}

TEST(Worker, ReadyStormStrandsNothing) {
	WorkerHarness h;
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
	WorkerHarness h(2);
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
	WorkerHarness h;
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
	WorkerHarness h;
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
	WorkerHarness h(1);
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
	WorkerHarness h;
	auto fds = unix_pair();
	AcceptReply r;
	r.sockfd = fds.first.release();
	r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
	r.auth_mode = HANDSHAKE_AUTH_UNAUTH;
	h.kernel.submit(std::move(r));
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, static_cast<uint32_t>(EINVAL));
	EXPECT_TRUE(h.log.contains("handshake failed: EINVAL: server handshake with unsupported"));
}

TEST(Worker, KtlsFailureIsEio) {
	WorkerHarness h;
	h.shared.install = install_ktls; // a unix socket has no kTLS
	Conn c = client_request(h.kernel);
	h.start(1);
	ASSERT_TRUE(h.kernel.wait_dones(1));
	EXPECT_EQ(h.kernel.done_copy()[0].status, static_cast<uint32_t>(EIO));
	EXPECT_TRUE(h.log.contains("handshake failed: EIO: kTLS: setsockopt(TCP_ULP"));
}

TEST(Worker, DoneCarriesThePskPeerId) {
	WorkerHarness h;
	auto key = random_bytes(32);
	auto id = add_user_key("worker-client", key);
	auto fds = tcp_pair();
	AcceptReply r;
	r.sockfd = fds.first.release();
	r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
	r.auth_mode = HANDSHAKE_AUTH_PSK;
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
	WorkerHarness h;
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	h.creds.replace(make_credentials(spec));
	std::vector<std::unique_ptr<Peer>> peers;
	std::vector<int> fds;
	for (int i = 0; i < 8; i++) {
		auto pair = tcp_pair();
		AcceptReply r;
		r.sockfd = pair.second.release(); // the accepted side: a server
		r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
		r.auth_mode = HANDSHAKE_AUTH_X509;
		r.timeout_ms = 10000;
		fds.push_back(r.sockfd);
		h.kernel.submit(std::move(r));
		PeerOptions p;
		p.server = false;
		p.cert = p.key = "client";
		p.ca = "ca.pem";
		p.verify_name = "server.test";
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
	WorkerHarness h(64, ReverseResolver::system_lookup, kernel_sends_keyring);
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
		AcceptReply r;
		r.sockfd = pair.second.release();
		r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
		r.auth_mode = HANDSHAKE_AUTH_PSK;
		r.timeout_ms = 10000;
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

	WorkerHarness h;
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
	WorkerHarness h(64, [&lookups](const sockaddr_storage &a) {
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
	WorkerHarness h(64, [&helper](const sockaddr_storage &a) {
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
	WorkerHarness h(64, [](const sockaddr_storage &a) {
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
	WorkerHarness h(64, [&](const sockaddr_storage &a) {
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
	WorkerHarness h;
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
	WorkerHarness h;
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

} // namespace
} // namespace tlsup::test
