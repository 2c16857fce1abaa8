// SPDX-License-Identifier: GPL-2.0
//
// kTLS for real: needs a kernel with the "tls" ULP, so it is not part of the
// host suite (the build host has none); run it inside User-Mode Linux:
//   tools/uml/run.sh -t 120 -- tests/host/agent/kernel/ktls_live_check.sh BUILD_DIR
// For each cipher: the engine finishes a handshake over loopback TCP while
// the peer sends data behind its Finished, install_ktls() hands the socket
// to the kernel, and then plain recv()/send() on the socket must carry
// that data and an answer, with record types reported as kTLS does.
#include <gtest/gtest.h>
#include <linux/tls.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <uapi/linux/handshake.h>

#include "engine_run.hpp"
#include "test_support.hpp"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace tlsup::test {
namespace {

// One record's payload and type, as a kTLS consumer reads it.
std::pair<int, std::string> recv_record(int fd) {
	char data[16384];
	char cbuf[CMSG_SPACE(sizeof(unsigned char))];
	iovec iov{data, sizeof(data)};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	ssize_t n = recvmsg(fd, &msg, 0);
	if (n < 0)
		return {-errno, {}};
	int type = 23;
	for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE)
			type = *CMSG_DATA(c);
	return {type, std::string(data, static_cast<size_t>(n))};
}

class KtlsLive : public ::testing::TestWithParam<const char *> {};

// The client of an anonymous handshake with server.test over loopback TCP
// against PEER, who goes on reading (what the test sends through kTLS).
EngineRun client_run(const Priorities &prio, PeerOptions peer, const Log &log) {
	auto s = engine_setup(Role::Client, Auth::Anonymous, make_credentials(ConfigSpec{}), prio);
	s.peername = "server.test";
	return run_engine(std::move(s), tcp_pair(), std::move(peer), log, PeerAfter::KeepRunning);
}

TEST_P(KtlsLive, DataBehindFinishedAndAnAnswerGoThroughTheKernel) {
	auto prio = Priorities::create().value();
	PeerOptions p = server_peer("server");
	p.priority = std::string("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+") + GetParam();
	p.tickets = true;
	p.data_after = std::string("behind Finished via ") + GetParam();
	p.receive_after = 4;
	CaptureLog log;
	// Its agent_fd closes before its peer goes: a failing test ends its peer.
	auto r = client_run(*prio, p, log.log());
	ASSERT_TRUE(r.result.ok()) << r.reason();
	int fd = r.agent_fd.get();
	auto secrets = r.session->traffic_secrets();
	ASSERT_TRUE(secrets.ok());
	auto installed = install_ktls(fd, secrets.value());
	ASSERT_TRUE(installed.ok()) << installed.error().reason;
	r.session->restore_nagle();

	// A consumer skips non-data records (the NewSessionTicket).
	std::string got;
	for (int i = 0; i < 4 && got.empty(); i++) {
		auto [type, data] = recv_record(fd);
		ASSERT_GT(type, 0) << strerror(-type);
		if (type == 23)
			got = data;
		else
			EXPECT_EQ(type, 22);
	}
	EXPECT_EQ(got, std::string("behind Finished via ") + GetParam());
	ASSERT_EQ(::send(fd, "pong", 4, 0), 4);
	EXPECT_EQ(r.running_peer->wait().received, "pong");
}

INSTANTIATE_TEST_SUITE_P(Ciphers, KtlsLive,
                         ::testing::Values("AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305",
                                           "AES-128-CCM"),
                         [](const auto &info) {
	                         std::string n = info.param;
	                         for (auto &c : n)
		                         if (c == '-')
			                         c = '_';
	                         return n;
                         });

TEST(KtlsLiveInstall, APeersRecordSizeLimitIsSetOrRefusedClearly) {
	// RFC 8449: a peer that accepts at most 1025-byte records. Where the
	// kernel has TLS_TX_MAX_PAYLOAD_LEN kTLS is told; where it has not
	// (6.1, 6.12) the handshake fails with EIO and says why, instead of
	// kTLS sending records the peer refuses.
	auto prio = Priorities::create().value();
	PeerOptions p = server_peer("server");
	p.record_size_limit = 1024;
	CaptureLog log;
	auto r = client_run(*prio, p, log.log());
	ASSERT_TRUE(r.result.ok()) << r.reason();
	UniqueFd &agent = r.agent_fd;
	auto secrets = r.session->traffic_secrets().value();
	ASSERT_EQ(secrets.tx_max_payload, 1024u);
	auto installed = install_ktls(agent.get(), secrets);
	if (installed) {
		uint16_t v = 0;
		socklen_t len = sizeof(v);
		ASSERT_EQ(getsockopt(agent.get(), SOL_TLS, kTlsTxMaxPayloadLen, &v, &len), 0);
		EXPECT_EQ(v, 1024);
	} else {
		EXPECT_EQ(installed.error().code, EIO);
		EXPECT_NE(installed.error().reason.find("RFC 8449"), std::string::npos)
		        << installed.error().reason;
		std::printf("# this kernel: %s\n", installed.error().reason.c_str());
	}
	agent.reset();
	r.running_peer->wait();
}

TEST(KtlsLiveInstall, SocketpairStillRefusedWithEio) {
	auto fds = unix_pair();
	TrafficSecrets t;
	t.cipher = GNUTLS_CIPHER_AES_128_GCM;
	t.tx.key = SecretBytes(random_bytes(16));
	t.tx.iv = SecretBytes(random_bytes(12));
	t.rx.key = SecretBytes(random_bytes(16));
	t.rx.iv = SecretBytes(random_bytes(12));
	auto r = install_ktls(fds.first.get(), t);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, EIO);
}

} // namespace
} // namespace tlsup::test
