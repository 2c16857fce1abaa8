// SPDX-License-Identifier: GPL-2.0
// ACCEPT and DONE as the genl shim hands them to the core: raw attributes
// in, reply attributes out (DESIGN §1 and §2.3–2.4).
#include "harness.hpp"

namespace test {
namespace {

using Netlink = CoreTest;

TEST_F(Netlink, AcceptReplyX509InDesignOrder) {
	Consumer &c = consumer();
	tlsup_submit a = c.args(HANDSHAKE_MSG_TYPE_CLIENTHELLO, HANDSHAKE_AUTH_X509);
	a.peername = "nfs.example.org";
	a.timeout_ms = 15000;
	a.cert = 101;
	a.privkey = 102;
	a.keyring = 55;
	ASSERT_EQ(submit(c, a), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	std::vector<uint16_t> want = {HANDSHAKE_A_ACCEPT_SOCKFD,    HANDSHAKE_A_ACCEPT_MESSAGE_TYPE,
	                              HANDSHAKE_A_ACCEPT_PEERNAME,  HANDSHAKE_A_ACCEPT_TIMEOUT,
	                              HANDSHAKE_A_ACCEPT_AUTH_MODE, HANDSHAKE_A_ACCEPT_CERTIFICATE,
	                              HANDSHAKE_A_ACCEPT_KEYRING};
	EXPECT_EQ(acc.order(), want);
	EXPECT_EQ(acc.u32(HANDSHAKE_A_ACCEPT_MESSAGE_TYPE), HANDSHAKE_MSG_TYPE_CLIENTHELLO);
	EXPECT_EQ(acc.str(HANDSHAKE_A_ACCEPT_PEERNAME), "nfs.example.org");
	EXPECT_EQ(acc.u32(HANDSHAKE_A_ACCEPT_TIMEOUT), 15000u);
	EXPECT_EQ(acc.u32(HANDSHAKE_A_ACCEPT_AUTH_MODE), HANDSHAKE_AUTH_X509);
	EXPECT_EQ(acc.u32(HANDSHAKE_A_ACCEPT_KEYRING), 55u);
	// The nest: CERT then PRIVKEY, flagged nested.
	for (auto &at : acc.attrs) {
		if (at.first != HANDSHAKE_A_ACCEPT_CERTIFICATE)
			continue;
		tlsup::nl::AttrReader rd({at.second.data(), at.second.size()});
		tlsup::nl::Attr x;
		ASSERT_TRUE(rd.next(x));
		EXPECT_EQ(x.type, HANDSHAKE_A_X509_CERT);
		EXPECT_EQ(x.as_s32(), 101);
		ASSERT_TRUE(rd.next(x));
		EXPECT_EQ(x.type, HANDSHAKE_A_X509_PRIVKEY);
		EXPECT_EQ(x.as_s32(), 102);
		EXPECT_FALSE(rd.next(x));
	}
	EXPECT_TRUE(acc.reply.sent);
	EXPECT_EQ(k.linked_keyrings, std::vector<int>{55}) << "ta_keyring linked into the agent";
	// The fd is live in the caller and refers to the consumer's file.
	EXPECT_EQ(k.fd_file(acc.fd), c.file);
	EXPECT_EQ(c.file->refs.load(), 3) << "consumer + request pin + agent's fd";
	EXPECT_EQ(stats().accepted, 1u);
	EXPECT_EQ(stats().pending, 0u);
	EXPECT_EQ(k.count(TLSUP_TRACE_CMD_ACCEPT), 1u);
}

TEST_F(Netlink, AcceptReplyOmitsOptionalAttributes) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c, c.args(HANDSHAKE_MSG_TYPE_CLIENTHELLO, HANDSHAKE_AUTH_UNAUTH)), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	std::vector<uint16_t> want = {HANDSHAKE_A_ACCEPT_SOCKFD, HANDSHAKE_A_ACCEPT_MESSAGE_TYPE,
	                              HANDSHAKE_A_ACCEPT_AUTH_MODE};
	EXPECT_EQ(acc.order(), want);
	EXPECT_EQ(acc.u32(HANDSHAKE_A_ACCEPT_AUTH_MODE), HANDSHAKE_AUTH_UNAUTH);
	EXPECT_TRUE(k.linked_keyrings.empty());
}

TEST_F(Netlink, AcceptX509WithoutCertOrKeyHasNoNest) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c, c.args(HANDSHAKE_MSG_TYPE_SERVERHELLO, HANDSHAKE_AUTH_X509)), 0);
	Accepted acc = accept();
	EXPECT_FALSE(acc.has(HANDSHAKE_A_ACCEPT_CERTIFICATE));
	EXPECT_EQ(acc.u32(HANDSHAKE_A_ACCEPT_MESSAGE_TYPE), HANDSHAKE_MSG_TYPE_SERVERHELLO);
}

TEST_F(Netlink, AcceptClientPskSendsEveryIdentity) {
	Consumer &c = consumer();
	tlsup_submit a = c.args(HANDSHAKE_MSG_TYPE_CLIENTHELLO, HANDSHAKE_AUTH_PSK);
	a.num_peerids = 5;
	for (int i = 0; i < 5; i++)
		a.peerids[i] = 900 + i;
	ASSERT_EQ(submit(c, a), 0);
	Accepted acc = accept();
	std::vector<uint32_t> ids;
	for (auto &at : acc.attrs)
		if (at.first == HANDSHAKE_A_ACCEPT_PEER_IDENTITY) {
			uint32_t v;
			std::memcpy(&v, at.second.data(), 4);
			ids.push_back(v);
		}
	EXPECT_EQ(ids, (std::vector<uint32_t>{900, 901, 902, 903, 904}));
	EXPECT_FALSE(acc.has(HANDSHAKE_A_ACCEPT_CERTIFICATE));
}

TEST_F(Netlink, AcceptServerPskSendsFirstIdentityLikeUpstream) {
	Consumer &c = consumer();
	tlsup_submit a = c.args(HANDSHAKE_MSG_TYPE_SERVERHELLO, HANDSHAKE_AUTH_PSK);
	a.num_peerids = 0;
	a.peerids[0] = 4242;
	a.peerids[1] = 1;
	ASSERT_EQ(submit(c, a), 0);
	Accepted acc = accept();
	int n = 0;
	for (auto &at : acc.attrs)
		n += at.first == HANDSHAKE_A_ACCEPT_PEER_IDENTITY;
	EXPECT_EQ(n, 1);
	EXPECT_EQ(acc.u32(HANDSHAKE_A_ACCEPT_PEER_IDENTITY), 4242u);
}

TEST_F(Netlink, PeernameIsCopiedAtSubmit) {
	Consumer &c = consumer();
	char name[] = "first.example";
	tlsup_submit a = c.args();
	a.peername = name;
	ASSERT_EQ(submit(c, a), 0);
	std::strcpy(name, "XXXXX.example");
	EXPECT_EQ(accept().str(HANDSHAKE_A_ACCEPT_PEERNAME), "first.example");
}

TEST_F(Netlink, AcceptIsFifo) {
	k.max_pending = 10;
	Consumer &c1 = consumer();
	Consumer &c2 = consumer();
	Consumer &c3 = consumer();
	for (Consumer *c : {&c1, &c2, &c3})
		ASSERT_EQ(submit(*c), 0);
	for (Consumer *c : {&c1, &c2, &c3})
		EXPECT_EQ(k.fd_file(accept().fd), c->file);
}

TEST_F(Netlink, AcceptEmptyQueueIsEagain) {
	EXPECT_EQ(accept().ret, -EAGAIN);
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	EXPECT_EQ(accept(HANDSHAKE_HANDLER_CLASS_NONE).ret, -EAGAIN) << "other class";
	EXPECT_EQ(accept(HANDSHAKE_HANDLER_CLASS_MAX).ret, -EAGAIN);
	EXPECT_EQ(stats().pending, 1u);
}

TEST_F(Netlink, AcceptBadRequestsAreRefusedAndChangeNothing) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	fake::AttrBuilder none, big, wrong_len, unknown, nested;
	big.u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, 3);
	uint16_t two = 1;
	wrong_len.raw(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, &two, 2);
	unknown.u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, 1).u32(HANDSHAKE_A_ACCEPT_SOCKFD, 1);
	uint32_t one = 1;
	nested.raw(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, &one, 4, 0x8000);
	for (auto *b : {&none, &wrong_len, &unknown, &nested})
		EXPECT_EQ(accept_raw(b->bytes).ret, -EINVAL);
	EXPECT_EQ(accept_raw(big.bytes).ret, -ERANGE) << "out of range, as NLA_POLICY_MAX";
	EXPECT_EQ(stats().pending, 1u);
	EXPECT_EQ(stats().accepted, 0u);
	EXPECT_EQ(c.file->refs.load(), 2);
}

TEST_F(Netlink, AcceptFdReserveFailureCompletesWithEio) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	k.fd_reserve_result = -EMFILE;
	Accepted acc = accept();
	EXPECT_EQ(acc.ret, -EMFILE);
	EXPECT_EQ(c.cb.calls.load(), 1);
	EXPECT_EQ(c.cb.status.load(), -EIO);
	EXPECT_EQ(c.file->refs.load(), 1) << "pin and the extra reference dropped";
	EXPECT_EQ(c.sk->refs.load(), 1);
	EXPECT_EQ(k.open_fds(), 0u);
}

TEST_F(Netlink, AcceptKeyringLinkFailureCompletesWithEio) {
	Consumer &c = consumer();
	tlsup_submit a = c.args();
	a.keyring = 31337;
	ASSERT_EQ(submit(c, a), 0);
	k.keyring_link_result = -EKEYREVOKED;
	Accepted acc = accept();
	EXPECT_EQ(acc.ret, -EKEYREVOKED);
	EXPECT_FALSE(acc.reply.sent);
	EXPECT_EQ(c.cb.status.load(), -EIO);
	EXPECT_EQ(k.open_fds(), 0u);
}

TEST_F(Netlink, AcceptReplyTooBigCompletesWithEio) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc;
	acc.reply.fail_put_after = 2;
	fake::AttrBuilder b;
	b.u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, 1);
	acc.ret = tlsup_core_cmd_accept(net->core, b.bytes.data(), b.bytes.size(),
	                                reinterpret_cast<tlsup_nl_reply *>(&acc.reply));
	EXPECT_EQ(acc.ret, -EMSGSIZE);
	EXPECT_TRUE(acc.reply.aborted);
	EXPECT_FALSE(acc.reply.sent);
	EXPECT_EQ(c.cb.status.load(), -EIO);
	EXPECT_EQ(k.open_fds(), 0u);
}

TEST_F(Netlink, AcceptReplySendFailureLeavesNoFd) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc;
	acc.reply.send_result = -EAGAIN;
	fake::AttrBuilder b;
	b.u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, 1);
	acc.ret = tlsup_core_cmd_accept(net->core, b.bytes.data(), b.bytes.size(),
	                                reinterpret_cast<tlsup_nl_reply *>(&acc.reply));
	EXPECT_EQ(acc.ret, -EAGAIN);
	EXPECT_EQ(k.open_fds(), 0u) << "the fd goes live only after the reply";
	EXPECT_EQ(c.cb.calls.load(), 1);
	EXPECT_EQ(c.cb.status.load(), -EIO);
}

TEST_F(Netlink, ConcurrentCancelDuringAcceptKeepsTheFileAlive) {
	// Upstream bug class: accept's file reference vs. a concurrent cancel.
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	bool cancelled = false;
	k.on_fd_reserve = [&] { cancelled = tlsup_core_cancel(c.ksk()); };
	Accepted acc = accept();
	k.on_fd_reserve = nullptr;
	EXPECT_TRUE(cancelled);
	ASSERT_EQ(acc.ret, 0);
	EXPECT_EQ(k.fd_file(acc.fd), c.file);
	EXPECT_EQ(c.file->refs.load(), 2) << "consumer + agent's fd; the pin is gone";
	EXPECT_EQ(done(acc.fd, 0), 0);
	EXPECT_EQ(c.cb.calls.load(), 0) << "cancel won: no callback";
}

TEST_F(Netlink, DoneSuccessDeliversStatusAndFirstPeer) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	EXPECT_EQ(done(acc.fd, 0, {71, 72, 73}), 0);
	EXPECT_EQ(c.cb.calls.load(), 1);
	EXPECT_EQ(c.cb.status.load(), 0);
	EXPECT_EQ(c.cb.peerid.load(), 71);
	EXPECT_EQ(c.sk->refs.load(), 1) << "sock pin released";
	EXPECT_EQ(stats().by_status[TLSUP_ST_OK], 1u);
	EXPECT_EQ(k.count(TLSUP_TRACE_CMD_DONE), 1u);
}

TEST_F(Netlink, DoneStatusIsNegated) {
	struct {
		int status;
		tlsup_status_bucket bucket;
	} cases[] = {{EACCES, TLSUP_ST_EACCES},
	             {ENOKEY, TLSUP_ST_ENOKEY},
	             {EKEYREJECTED, TLSUP_ST_EKEYREJECTED},
	             {ETIMEDOUT, TLSUP_ST_ETIMEDOUT},
	             {EINVAL, TLSUP_ST_EINVAL},
	             {ENOMEM, TLSUP_ST_ENOMEM},
	             {EIO, TLSUP_ST_EIO},
	             {EPROTO, TLSUP_ST_OTHER},
	             {4095, TLSUP_ST_OTHER}};
	k.max_pending = 20;
	for (auto &cs : cases) {
		Consumer &c = consumer();
		ASSERT_EQ(submit(c), 0);
		ASSERT_EQ(done(accept().fd, cs.status), 0);
		EXPECT_EQ(c.cb.status.load(), -cs.status);
		EXPECT_EQ(c.cb.peerid.load(), 0) << "TLS_NO_PEERID";
		EXPECT_EQ(stats().by_status[cs.bucket] >= 1, true) << cs.status;
	}
}

TEST_F(Netlink, DoneWithoutStatusIsEio) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	ASSERT_EQ(done(accept().fd, -1), 0);
	EXPECT_EQ(c.cb.status.load(), -EIO);
}

TEST_F(Netlink, SecondDoneIsANoOp) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	ASSERT_EQ(done(acc.fd, 0), 0);
	EXPECT_EQ(done(acc.fd, EACCES), 0);
	EXPECT_EQ(c.cb.calls.load(), 1);
	EXPECT_EQ(c.cb.status.load(), 0);
}

TEST_F(Netlink, DoneForPendingRequestIsRefused) {
	// The rule that closes upstream 6.12's DONE-before-ACCEPT use-after-free.
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	int fd = k.install_fd_for_test(c.file);
	c.file->refs++;
	EXPECT_EQ(done(fd, 0), -EBUSY);
	EXPECT_EQ(c.cb.calls.load(), 0);
	EXPECT_EQ(stats().pending, 1u);
	EXPECT_EQ(stats().done_refused, 1u);
	// The request is intact: it is accepted and completed normally.
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	EXPECT_EQ(done(acc.fd, 0), 0);
	EXPECT_EQ(c.cb.calls.load(), 1);
}

TEST_F(Netlink, DoneBadInputIsRefusedAndChangesNothing) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	fake::AttrBuilder no_fd, oversize, unknown, tag_unterminated;
	no_fd.u32(HANDSHAKE_A_DONE_STATUS, 0);
	oversize.s32(HANDSHAKE_A_DONE_SOCKFD, acc.fd).u32(HANDSHAKE_A_DONE_STATUS, 4096);
	unknown.s32(HANDSHAKE_A_DONE_SOCKFD, acc.fd).u32(9, 0);
	tag_unterminated.s32(HANDSHAKE_A_DONE_SOCKFD, acc.fd).raw(HANDSHAKE_A_DONE_TAG, "ab", 2);
	for (auto *b : {&no_fd, &unknown, &tag_unterminated})
		EXPECT_EQ(done_raw(b->bytes), -EINVAL);
	EXPECT_EQ(done_raw(oversize.bytes), -ERANGE) << "status above MAX_ERRNO";
	EXPECT_EQ(done(9999, 0), -EBADF) << "not an fd";
	fake::File plain; // a file that is not a socket
	plain.refs = 2;
	int pfd = k.install_fd_for_test(&plain);
	EXPECT_EQ(done(pfd, 0), -ENOTSOCK);
	{
		std::lock_guard g(k.mu);
		k.fds_.erase(pfd);
	}
	Consumer &other = consumer();
	int ofd = k.install_fd_for_test(other.file);
	other.file->refs++;
	EXPECT_EQ(done(ofd, 0), -EBUSY) << "a socket without a request";
	EXPECT_EQ(c.cb.calls.load(), 0);
	EXPECT_EQ(stats().done_refused, 7u);
	EXPECT_EQ(done(acc.fd, 0), 0) << "the request still completes";
	EXPECT_EQ(c.cb.calls.load(), 1);
}

TEST_F(Netlink, DoneTagsAreAcceptedAndIgnored) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	fake::AttrBuilder b;
	b.s32(HANDSHAKE_A_DONE_SOCKFD, acc.fd)
	        .u32(HANDSHAKE_A_DONE_STATUS, 0)
	        .str(HANDSHAKE_A_DONE_TAG, "nfs")
	        .str(HANDSHAKE_A_DONE_TAG, "x")
	        .u32(HANDSHAKE_A_DONE_REMOTE_AUTH, 5);
	EXPECT_EQ(done_raw(b.bytes), 0);
	EXPECT_EQ(c.cb.peerid.load(), 5);
}

TEST_F(Netlink, AgentClosingItsFdAfterDoneLeavesConsumerSocket) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	ASSERT_EQ(done(acc.fd, 0), 0);
	k.close_fd(acc.fd);
	EXPECT_EQ(c.file->refs.load(), 1);
	EXPECT_EQ(c.sk->refs.load(), 1);
	EXPECT_FALSE(c.sk->destroyed.load());
}

} // namespace
} // namespace test
