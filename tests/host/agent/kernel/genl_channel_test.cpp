// SPDX-License-Identifier: GPL-2.0
//
// GenlChannel's side of the "handshake" family, over AF_UNIX datagram
// pairs whose far end answers as the kernel does (inside the send): READY
// counted by class, in batches; ACCEPT without NLM_F_ACK (one answer);
// DONE not waited for, a refusal reported later with its fd.
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cstring>
#include <functional>

#include <uapi/linux/handshake.h>

#include "netlink.hpp"

namespace tlsup {
namespace {

constexpr int kFamily = 0x21;

void put_u32(std::vector<uint8_t> &out, uint16_t type, uint32_t v) {
	nlattr h{static_cast<uint16_t>(NLA_HDRLEN + 4), type};
	size_t at = out.size();
	out.resize(at + NLA_HDRLEN + 4);
	std::memcpy(out.data() + at, &h, sizeof(h));
	std::memcpy(out.data() + at + NLA_HDRLEN, &v, 4);
}

std::vector<uint8_t> message(uint16_t type, uint32_t seq, uint8_t cmd,
                             const std::vector<uint8_t> &attrs) {
	std::vector<uint8_t> m(NLMSG_HDRLEN + GENL_HDRLEN + attrs.size());
	auto *nh = reinterpret_cast<nlmsghdr *>(m.data());
	nh->nlmsg_len = static_cast<uint32_t>(m.size());
	nh->nlmsg_type = type;
	nh->nlmsg_seq = seq;
	auto *g = reinterpret_cast<genlmsghdr *>(m.data() + NLMSG_HDRLEN);
	g->cmd = cmd;
	g->version = 1;
	std::memcpy(m.data() + NLMSG_HDRLEN + GENL_HDRLEN, attrs.data(), attrs.size());
	return m;
}

std::vector<uint8_t> error_message(uint32_t seq, int error) {
	std::vector<uint8_t> m(NLMSG_HDRLEN + sizeof(nlmsgerr));
	auto *nh = reinterpret_cast<nlmsghdr *>(m.data());
	nh->nlmsg_len = static_cast<uint32_t>(m.size());
	nh->nlmsg_type = NLMSG_ERROR;
	nh->nlmsg_seq = seq;
	nlmsgerr e{};
	e.error = error;
	std::memcpy(m.data() + NLMSG_HDRLEN, &e, sizeof(e));
	return m;
}

// The kernel's end: what it received, and how it answers.
struct FarEnd {
	UniqueFd notify, request;
	std::vector<std::vector<uint8_t>> received;
	std::function<void(const nlmsghdr &, uint8_t cmd)> answer;

	void on_sent() {
		uint8_t buf[4096];
		ssize_t n = ::recv(request.get(), buf, sizeof(buf), MSG_DONTWAIT);
		ASSERT_GT(n, 0);
		received.emplace_back(buf, buf + n);
		auto *nh = reinterpret_cast<nlmsghdr *>(buf);
		auto *g = reinterpret_cast<genlmsghdr *>(buf + NLMSG_HDRLEN);
		if (answer)
			answer(*nh, g->cmd);
	}
	void send_request_answer(const std::vector<uint8_t> &m) {
		ASSERT_EQ(::send(request.get(), m.data(), m.size(), 0),
		          static_cast<ssize_t>(m.size()));
	}
	void ready(uint32_t cls) {
		std::vector<uint8_t> a;
		put_u32(a, HANDSHAKE_A_ACCEPT_HANDLER_CLASS, cls);
		auto m = message(kFamily, 0, HANDSHAKE_CMD_READY, a);
		ASSERT_EQ(::send(notify.get(), m.data(), m.size(), 0),
		          static_cast<ssize_t>(m.size()));
	}
};

std::pair<std::unique_ptr<GenlChannel>, std::unique_ptr<FarEnd>> pair() {
	int n[2], r[2];
	EXPECT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, n), 0);
	EXPECT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, r), 0);
	auto far = std::make_unique<FarEnd>();
	far->notify.reset(n[1]);
	far->request.reset(r[1]);
	FarEnd *f = far.get();
	auto ch =
	        GenlChannel::adopt(UniqueFd(n[0]), UniqueFd(r[0]), kFamily, [f] { f->on_sent(); });
	return {std::move(ch), std::move(far)};
}

TEST(GenlChannel, ReadyIsCountedForOurClassOnlyAndInBatches) {
	auto [ch, far] = pair();
	for (int i = 0; i < 70; i++) // more than one recvmmsg() batch
		far->ready(HANDSHAKE_HANDLER_CLASS_TLSHD);
	far->ready(HANDSHAKE_HANDLER_CLASS_NONE);
	auto n = ch->drain_notifications();
	ASSERT_TRUE(n.ok());
	EXPECT_EQ(n->ready, 70u);
	EXPECT_EQ(n->overruns, 0u);
	auto again = ch->drain_notifications();
	ASSERT_TRUE(again.ok());
	EXPECT_EQ(again->ready, 0u);
}

TEST(GenlChannel, AcceptAsksNoAckAndReadsTheReply) {
	auto [ch, far] = pair();
	far->answer = [&](const nlmsghdr &h, uint8_t cmd) {
		EXPECT_EQ(cmd, HANDSHAKE_CMD_ACCEPT);
		EXPECT_EQ(h.nlmsg_flags & NLM_F_ACK, 0);
		std::vector<uint8_t> a;
		put_u32(a, HANDSHAKE_A_ACCEPT_SOCKFD, 42);
		put_u32(a, HANDSHAKE_A_ACCEPT_MESSAGE_TYPE, HANDSHAKE_MSG_TYPE_CLIENTHELLO);
		put_u32(a, HANDSHAKE_A_ACCEPT_AUTH_MODE, HANDSHAKE_AUTH_UNAUTH);
		far->send_request_answer(message(kFamily, h.nlmsg_seq, HANDSHAKE_CMD_ACCEPT, a));
	};
	auto r = ch->accept();
	ASSERT_TRUE(r.ok()) << r.error().reason;
	ASSERT_TRUE(r.value().has_value());
	EXPECT_EQ(r.value()->request.sockfd, 42);
	EXPECT_EQ(r.value()->request.message_type, HANDSHAKE_MSG_TYPE_CLIENTHELLO);

	far->answer = [&](const nlmsghdr &h, uint8_t) {
		far->send_request_answer(error_message(h.nlmsg_seq, -EAGAIN));
	};
	auto empty = ch->accept();
	ASSERT_TRUE(empty.ok());
	EXPECT_FALSE(empty.value().has_value());
}

TEST(GenlChannel, ARefusedDoneIsReportedLaterWithItsFd) {
	auto [ch, far] = pair();
	// The first DONE is taken (no answer), the second refused.
	int n = 0;
	far->answer = [&](const nlmsghdr &h, uint8_t cmd) {
		EXPECT_EQ(cmd, HANDSHAKE_CMD_DONE);
		EXPECT_EQ(h.nlmsg_flags & NLM_F_ACK, 0);
		if (n++ == 1)
			far->send_request_answer(error_message(h.nlmsg_seq, -EBADF));
	};
	EXPECT_TRUE(ch->done({7, 0, {}}).ok());
	EXPECT_TRUE(ch->done({8, EACCES, {}}).ok());
	EXPECT_EQ(far->received.size(), 2u);
	auto refused = ch->done_refusals();
	ASSERT_EQ(refused.size(), 1u);
	EXPECT_EQ(refused[0].code, EBADF);
	EXPECT_NE(refused[0].reason.find("fd 8: DONE:"), std::string::npos) << refused[0].reason;
	EXPECT_TRUE(ch->done_refusals().empty());

	// A refusal still queued when an ACCEPT reads its answer is kept too.
	far->answer = [&](const nlmsghdr &h, uint8_t cmd) {
		if (cmd == HANDSHAKE_CMD_DONE) {
			far->send_request_answer(error_message(h.nlmsg_seq, -EINVAL));
			return;
		}
		far->send_request_answer(error_message(h.nlmsg_seq, -EAGAIN));
	};
	EXPECT_TRUE(ch->done({9, 0, {}}).ok());
	auto r = ch->accept();
	ASSERT_TRUE(r.ok());
	EXPECT_FALSE(r.value().has_value());
	refused = ch->done_refusals();
	ASSERT_EQ(refused.size(), 1u);
	EXPECT_NE(refused[0].reason.find("fd 9"), std::string::npos);
}

} // namespace
} // namespace tlsup
