// SPDX-License-Identifier: GPL-2.0
// ACCEPT and DONE as the genl shim hands them to the core: decoded
// commands in, the reply's content out (DESIGN §1 and §2.3–2.4). The
// attributes themselves (order, policies) are the genl shim's and are
// tested in KUnit (tests/kunit/genl_test.c).
#include <cstring>

#include "harness.hpp"

namespace test {
namespace {

using Netlink = CoreTest;

TEST_F(Netlink, AcceptReplyX509CarriesEverything) {
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
	ASSERT_TRUE(acc.reply.sent);
	EXPECT_EQ(acc.r().msg_type, HANDSHAKE_MSG_TYPE_CLIENTHELLO);
	EXPECT_TRUE(acc.reply.has_peername);
	EXPECT_EQ(acc.reply.peername, "nfs.example.org");
	EXPECT_EQ(acc.r().timeout_ms, 15000u);
	EXPECT_EQ(acc.r().auth_mode, HANDSHAKE_AUTH_X509);
	EXPECT_EQ(acc.r().cert, 101);
	EXPECT_EQ(acc.r().privkey, 102);
	EXPECT_EQ(acc.r().keyring, 55);
	EXPECT_EQ(acc.r().num_peerids, 0u);
	EXPECT_EQ(k.process_keyring, std::set<int>{55}) << "ta_keyring linked into the agent";
	EXPECT_TRUE(k.links_in_progress.empty());
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
	EXPECT_FALSE(acc.reply.has_peername);
	EXPECT_EQ(acc.r().timeout_ms, 0u);
	EXPECT_EQ(acc.r().keyring, 0);
	EXPECT_EQ(acc.r().auth_mode, HANDSHAKE_AUTH_UNAUTH);
	EXPECT_TRUE(k.process_keyring.empty());
}

TEST_F(Netlink, AcceptX509WithoutCertOrKeyHasNone) {
	Consumer &c = consumer();
	tlsup_submit a = c.args(HANDSHAKE_MSG_TYPE_SERVERHELLO, HANDSHAKE_AUTH_X509);
	a.peerids[0] = 77; // ignored for x509
	a.num_peerids = 1;
	ASSERT_EQ(submit(c, a), 0);
	Accepted acc = accept();
	EXPECT_EQ(acc.r().cert, 0);
	EXPECT_EQ(acc.r().privkey, 0);
	EXPECT_EQ(acc.r().num_peerids, 0u);
	EXPECT_EQ(acc.r().msg_type, HANDSHAKE_MSG_TYPE_SERVERHELLO);
}

TEST_F(Netlink, AcceptClientPskSendsEveryIdentity) {
	Consumer &c = consumer();
	tlsup_submit a = c.args(HANDSHAKE_MSG_TYPE_CLIENTHELLO, HANDSHAKE_AUTH_PSK);
	a.num_peerids = 5;
	for (int i = 0; i < 5; i++)
		a.peerids[i] = 900 + i;
	a.cert = 5; // ignored for PSK
	ASSERT_EQ(submit(c, a), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.r().num_peerids, 5u);
	for (int i = 0; i < 5; i++)
		EXPECT_EQ(acc.r().peerids[i], 900 + i);
	EXPECT_EQ(acc.r().cert, 0);
}

TEST_F(Netlink, AcceptServerPskSendsFirstIdentityLikeUpstream) {
	Consumer &c = consumer();
	tlsup_submit a = c.args(HANDSHAKE_MSG_TYPE_SERVERHELLO, HANDSHAKE_AUTH_PSK);
	a.num_peerids = 0;
	a.peerids[0] = 4242;
	a.peerids[1] = 1;
	ASSERT_EQ(submit(c, a), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.r().num_peerids, 1u);
	EXPECT_EQ(acc.r().peerids[0], 4242);
}

TEST_F(Netlink, PeernameIsCopiedAtSubmit) {
	Consumer &c = consumer();
	char name[] = "first.example";
	tlsup_submit a = c.args();
	a.peername = name;
	ASSERT_EQ(submit(c, a), 0);
	std::strcpy(name, "XXXXX.example");
	EXPECT_EQ(accept().reply.peername, "first.example");
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

TEST_F(Netlink, AcceptOfAClassWithoutQueueChangesNothing) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	for (uint32_t cls : {0u, 2u, 3u, 0xffffffffu})
		EXPECT_EQ(accept(cls).ret, -EAGAIN) << cls;
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
	EXPECT_EQ(k.reserved_fds(), 0u);
}

TEST_F(Netlink, AcceptReplyFailureLeavesNoFdAndNoKeyringLink) {
	// Review finding: a failed ACCEPT left the consumer's keyring linked
	// into the agent's process keyring.
	for (int err : {-EMSGSIZE, -ENOMEM, -EAGAIN}) {
		Consumer &c = consumer();
		tlsup_submit a = c.args();
		a.keyring = 4711;
		ASSERT_EQ(submit(c, a), 0);
		Accepted acc = accept(HANDSHAKE_HANDLER_CLASS_TLSHD, nullptr, err);
		EXPECT_EQ(acc.ret, err);
		EXPECT_FALSE(acc.reply.sent);
		EXPECT_EQ(k.open_fds(), 0u) << "the fd goes live only after the reply";
		EXPECT_EQ(k.reserved_fds(), 0u);
		EXPECT_TRUE(k.process_keyring.empty()) << "keyring unlinked again";
		EXPECT_TRUE(k.links_in_progress.empty());
		EXPECT_EQ(c.cb.calls.load(), 1);
		EXPECT_EQ(c.cb.status.load(), -EIO);
	}
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

TEST_F(Netlink, AcceptSkipsARequestItsCancelHasClaimed) {
	// A cancel that won the request but has not yet taken it off the
	// queue: an ACCEPT then must not hand it out (the consumer has its
	// socket back; the agent would shake hands on it for nothing).
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	bool claimed = false;
	Accepted acc;
	acc.ret = 1;
	k.on_point = [&](const char *where) {
		if (!std::strcmp(where, "atomic compare_exchange in claim")) {
			claimed = true;
		} else if (claimed && !std::strcmp(where, "tlsup_shim_lock")) {
			// The claim is done; its retire is about to lock.
			k.on_point = nullptr;
			acc = accept();
		}
	};
	EXPECT_TRUE(tlsup_core_cancel(c.ksk()));
	k.on_point = nullptr;
	ASSERT_NE(acc.ret, 1) << "the ACCEPT never ran between claim and retire";
	EXPECT_EQ(acc.ret, -EAGAIN);
	EXPECT_EQ(k.open_fds(), 0u);
	EXPECT_EQ(stats().accepted, 0u);
	EXPECT_EQ(stats().cancelled, 1u);
	EXPECT_EQ(c.file->refs.load(), 1);
	EXPECT_EQ(c.cb.calls.load(), 0);
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

TEST_F(Netlink, FailedAcceptKeepsALinkItDidNotMake) {
	// Review finding: a link is one per keyring; a failed ACCEPT took back
	// the link another ACCEPT (or the administrator) relied on.
	k.max_pending = 8;
	Consumer &a = consumer();
	Consumer &b = consumer();
	tlsup_submit sa = a.args(), sb = b.args();
	sa.keyring = sb.keyring = 77;
	ASSERT_EQ(submit(a, sa), 0);
	ASSERT_EQ(submit(b, sb), 0);
	ASSERT_EQ(accept().ret, 0);
	EXPECT_EQ(accept(HANDSHAKE_HANDLER_CLASS_TLSHD, nullptr, -ENOBUFS).ret, -ENOBUFS);
	EXPECT_EQ(k.process_keyring, std::set<int>{77}) << "the first ACCEPT's link stays";
	// Linked by someone else before: a failing ACCEPT leaves it too.
	k.process_keyring.insert(88);
	Consumer &c = consumer();
	tlsup_submit sc = c.args();
	sc.keyring = 88;
	ASSERT_EQ(submit(c, sc), 0);
	EXPECT_EQ(accept(HANDSHAKE_HANDLER_CLASS_TLSHD, nullptr, -ENOMEM).ret, -ENOMEM);
	EXPECT_EQ(k.process_keyring, (std::set<int>{77, 88}));
	EXPECT_TRUE(k.links_in_progress.empty());
}

TEST_F(Netlink, DoneBadDescriptorsAreRefusedAndChangeNothing) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
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
	EXPECT_EQ(stats().done_refused, 3u);
	EXPECT_EQ(done(acc.fd, 0), 0) << "the request still completes";
	EXPECT_EQ(c.cb.calls.load(), 1);
}

TEST_F(Netlink, DoneFromAnotherNamespaceIsRefused) {
	// Review finding: DONE looked the socket up globally, so an agent in
	// one namespace could end another namespace's request.
	fake::Net *other = k.new_net();
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	EXPECT_EQ(done(acc.fd, 0, {}, other), -EBUSY);
	EXPECT_EQ(c.cb.calls.load(), 0);
	EXPECT_EQ(stats(other).done_refused, 1u);
	EXPECT_EQ(done(acc.fd, 0), 0) << "its own namespace's agent still can";
	EXPECT_EQ(c.cb.calls.load(), 1);
	k.destroy_net(other);
}

TEST_F(Netlink, DoneKeepsTheFirstPeerOfMany) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	tlsup_done_cmd cmd{};
	cmd.sockfd = acc.fd;
	cmd.has_status = true;
	cmd.num_remote = 9; // the genl shim counts them all, keeps five
	cmd.remote[0] = 5;
	EXPECT_EQ(k.genl_done(net, cmd), 0);
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
