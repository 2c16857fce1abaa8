// SPDX-License-Identifier: GPL-2.0
// DESIGN §2 against the hosted core: submit, cancel, socket destruction,
// deadlines, namespace exit.
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "harness.hpp"

namespace test {
namespace {

class Lifecycle : public CoreTest {
protected:
	// The socket of a refused request is as the consumer gave it.
	void expect_socket_untouched(Consumer &c) {
		EXPECT_EQ(c.sk->refs.load(), 1);
		EXPECT_EQ(c.file->refs.load(), 1);
		EXPECT_EQ(c.sk->destruct.load(), fake::orig_destruct_cookie());
		EXPECT_EQ(c.cb.calls.load(), 0);
	}
	// ... and nothing else of it is left either.
	void expect_untouched(Consumer &c) {
		expect_socket_untouched(c);
		EXPECT_EQ(stats().live, 0u);
		EXPECT_EQ(stats().pending, 0u);
	}
};

TEST_F(Lifecycle, SubmitPinsHooksQueuesAndNotifies) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	EXPECT_EQ(c.sk->refs.load(), 2) << "sock pinned";
	EXPECT_EQ(c.file->refs.load(), 2) << "file pinned";
	EXPECT_NE(c.sk->destruct.load(), fake::orig_destruct_cookie()) << "sk_destruct hooked";
	EXPECT_EQ(net->ready_sent.load(), 1);
	EXPECT_EQ(stats().pending, 1u);
	EXPECT_EQ(stats().submitted, 1u);
	EXPECT_EQ(k.module_refs.load(), 1) << "a module reference per live request";
	EXPECT_EQ(k.count(TLSUP_TRACE_SUBMIT), 1u);
}

TEST_F(Lifecycle, InvalidArgumentsAreRefusedAndLeaveNothing) {
	Consumer &c = consumer();
	struct Case {
		const char *what;
		void (*mutate)(tlsup_submit &);
	} cases[] = {
	        {"no socket", [](tlsup_submit &a) { a.has_sock = false; }},
	        {"no file", [](tlsup_submit &a) { a.file = nullptr; }},
	        {"no sk", [](tlsup_submit &a) { a.sk = nullptr; }},
	        {"no callback", [](tlsup_submit &a) { a.done = nullptr; }},
	        {"bad message type", [](tlsup_submit &a) { a.msg_type = 7; }},
	        {"bad auth mode", [](tlsup_submit &a) { a.auth_mode = 9; }},
	        {"server without credentials",
	         [](tlsup_submit &a) {
		         a.msg_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
		         a.auth_mode = HANDSHAKE_AUTH_UNAUTH;
	         }},
	        {"client PSK with 0 ids",
	         [](tlsup_submit &a) {
		         a.auth_mode = HANDSHAKE_AUTH_PSK;
		         a.num_peerids = 0;
	         }},
	        {"client PSK with 6 ids",
	         [](tlsup_submit &a) {
		         a.auth_mode = HANDSHAKE_AUTH_PSK;
		         a.num_peerids = 6;
	         }},
	        {"peername over 255 bytes",
	         [](tlsup_submit &a) {
		         static std::string longname(256, 'a');
		         a.peername = longname.c_str();
	         }},
	};
	for (auto &cs : cases) {
		tlsup_submit a = c.args();
		cs.mutate(a);
		EXPECT_EQ(submit(c, a), -EINVAL) << cs.what;
		expect_untouched(c);
	}
	EXPECT_EQ(net->ready_sent.load(), 0);
	EXPECT_EQ(k.module_refs.load(), 0);
}

TEST_F(Lifecycle, PeernameOf255BytesIsAccepted) {
	Consumer &c = consumer();
	std::string name(255, 'b');
	tlsup_submit a = c.args();
	a.peername = name.c_str();
	EXPECT_EQ(submit(c, a), 0);
}

TEST_F(Lifecycle, SecondRequestOnSameSocketIsBusy) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	EXPECT_EQ(submit(c), -EBUSY);
	EXPECT_EQ(c.sk->refs.load(), 2) << "the first request's pins only";
	EXPECT_EQ(stats().pending, 1u);
	EXPECT_EQ(stats().submit_failed, 1u);
	EXPECT_NE(c.sk->destruct.load(), fake::orig_destruct_cookie())
	        << "still hooked by the first";
}

TEST_F(Lifecycle, PendingIsBoundedPerNamespace) {
	k.max_pending = 2;
	Consumer &a = consumer();
	Consumer &b = consumer();
	Consumer &c = consumer();
	ASSERT_EQ(submit(a), 0);
	ASSERT_EQ(submit(b), 0);
	EXPECT_EQ(submit(c), -EAGAIN);
	expect_socket_untouched(c);
	EXPECT_EQ(stats().pending, 2u);
	// Another namespace has its own bound.
	fake::Net *other = k.new_net();
	Consumer &d = consumer(other);
	EXPECT_EQ(submit(d), 0);
	// Accepting one frees a pending slot.
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	EXPECT_EQ(submit(c), 0);
	tlsup_core_cancel(d.ksk());
	k.destroy_net(other);
}

TEST_F(Lifecycle, NoAgentListeningIsEsrchAndRestoresTheSocket) {
	net->listeners = 0;
	Consumer &c = consumer();
	EXPECT_EQ(submit(c), -ESRCH);
	expect_untouched(c);
	EXPECT_EQ(stats().submit_failed, 1u);
	EXPECT_EQ(k.count(TLSUP_TRACE_SUBMIT_ERR), 1u);
}

TEST_F(Lifecycle, NotifyFailureUnwindsEverything) {
	net->notify_result = -ENOMEM;
	Consumer &c = consumer();
	EXPECT_EQ(submit(c), -ENOMEM);
	expect_untouched(c);
	EXPECT_EQ(k.count(TLSUP_TRACE_NOTIFY_ERR), 1u);
}

TEST_F(Lifecycle, OverrunListenerKeepsTheRequest) {
	// An agent with NETLINK_BROADCAST_ERROR whose queue was full: netlink
	// says ENOBUFS; that agent exists in this namespace and will drain.
	net->notify_result = -ENOBUFS;
	Consumer &c = consumer();
	EXPECT_EQ(submit(c), 0);
	EXPECT_EQ(stats().pending, 1u);
}

TEST_F(Lifecycle, ListenerOnlyInAnotherNamespaceIsEsrch) {
	// netlink_has_listeners() is global: a listener elsewhere passes it,
	// but the multicast reaches nobody here and says ESRCH.
	net->notify_result = -ESRCH;
	Consumer &c = consumer();
	EXPECT_EQ(submit(c), -ESRCH);
	expect_untouched(c);
}

TEST_F(Lifecycle, AcceptBetweenPublishAndFailedNotifyKeepsTheRequest) {
	// An agent takes the request before the notify fails: it is the
	// agent's now; submit must report success so the callback is owed.
	Consumer &c = consumer();
	net->notify_result = -ENOMEM;
	Accepted acc;
	net->on_notify = [&] { acc = accept(); };
	EXPECT_EQ(submit(c), 0);
	net->on_notify = nullptr;
	ASSERT_EQ(acc.ret, 0);
	EXPECT_EQ(done(acc.fd, 0), 0);
	EXPECT_EQ(c.cb.calls.load(), 1);
	EXPECT_EQ(c.cb.status.load(), 0);
}

TEST_F(Lifecycle, CancelWhileSubmitIsStillRunning) {
	// The consumer's own cancel races its hello: the request is pinned
	// before it can be found, so the cancel drops references that exist.
	Consumer &c = consumer();
	bool cancelled = false;
	net->on_notify = [&] { cancelled = tlsup_core_cancel(c.ksk()); };
	EXPECT_EQ(submit(c), 0);
	net->on_notify = nullptr;
	EXPECT_TRUE(cancelled);
	EXPECT_EQ(c.cb.calls.load(), 0);
	EXPECT_EQ(c.sk->refs.load(), 1);
	EXPECT_EQ(c.file->refs.load(), 1);
	EXPECT_EQ(accept().ret, -EAGAIN);
}

TEST_F(Lifecycle, AllocationFailureIsEnomem) {
	Consumer &c = consumer();
	k.fail_alloc_after = 0;
	EXPECT_EQ(submit(c), -ENOMEM);
	expect_untouched(c);
}

TEST_F(Lifecycle, ModuleGoingAwayRefusesRequests) {
	Consumer &c = consumer();
	k.module_get_fails = true;
	EXPECT_EQ(submit(c), -EOPNOTSUPP);
	expect_untouched(c);
}

TEST_F(Lifecycle, CancelPendingRequestRunsNoCallbackAndReleasesPins) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	EXPECT_TRUE(tlsup_core_cancel(c.ksk()));
	EXPECT_EQ(c.cb.calls.load(), 0);
	EXPECT_EQ(c.sk->refs.load(), 1);
	EXPECT_EQ(c.file->refs.load(), 1);
	EXPECT_EQ(stats().pending, 0u);
	EXPECT_EQ(stats().cancelled, 1u);
	EXPECT_EQ(accept().ret, -EAGAIN) << "a cancelled request is not handed out";
}

TEST_F(Lifecycle, DoubleCancelIsIdempotent) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	EXPECT_TRUE(tlsup_core_cancel(c.ksk()));
	EXPECT_TRUE(tlsup_core_cancel(c.ksk())) << "the callback still never runs";
	EXPECT_EQ(c.cb.calls.load(), 0);
	EXPECT_EQ(c.sk->refs.load(), 1) << "pins dropped once";
	EXPECT_EQ(stats().cancelled, 1u);
}

TEST_F(Lifecycle, CancelWithoutRequestIsFalse) {
	Consumer &c = consumer();
	EXPECT_FALSE(tlsup_core_cancel(c.ksk()));
	EXPECT_EQ(k.count(TLSUP_TRACE_CANCEL_NONE), 1u);
}

TEST_F(Lifecycle, CancelAfterDoneIsFalse) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	ASSERT_EQ(done(acc.fd, 0), 0);
	EXPECT_FALSE(tlsup_core_cancel(c.ksk()));
	EXPECT_EQ(c.cb.calls.load(), 1);
	EXPECT_EQ(k.count(TLSUP_TRACE_CANCEL_BUSY), 1u);
}

TEST_F(Lifecycle, CancelAcceptedRequestMakesDoneANoOp) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	EXPECT_TRUE(tlsup_core_cancel(c.ksk()));
	EXPECT_EQ(done(acc.fd, 0), 0);
	EXPECT_EQ(c.cb.calls.load(), 0);
}

TEST_F(Lifecycle, SocketDestructionFreesRequestAndChainsDestructor) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	ASSERT_EQ(done(acc.fd, 0), 0);
	EXPECT_EQ(stats().live, 1u) << "kept for tls_handshake_close until the socket dies";
	k.close_fd(acc.fd);
	fake::Sock *sk = c.sk;
	(void)sk;
	k.fput(c.file);
	c.file = nullptr;
	consumers.erase(std::find(consumers.begin(), consumers.end(), &c));
	EXPECT_EQ(stats().live, 0u);
	EXPECT_EQ(k.count(TLSUP_TRACE_DESTRUCT), 1u);
	EXPECT_EQ(k.module_refs.load(), 0);
	delete &c;
}

TEST_F(Lifecycle, SessionFlagAfterSuccessOnlyAndOnce) {
	Consumer &ok = consumer();
	Consumer &bad = consumer();
	ASSERT_EQ(submit(ok), 0);
	ASSERT_EQ(submit(bad), 0);
	Accepted a1 = accept(), a2 = accept();
	ASSERT_EQ(done(a1.fd, 0), 0);
	ASSERT_EQ(done(a2.fd, EACCES), 0);
	EXPECT_TRUE(tlsup_core_take_session(ok.ksk()));
	EXPECT_FALSE(tlsup_core_take_session(ok.ksk())) << "close_notify is sent once";
	EXPECT_FALSE(tlsup_core_take_session(bad.ksk()));
}

TEST_F(Lifecycle, DeadlineExpiresRequestTimeoutPlusTwoSeconds) {
	Consumer &c = consumer();
	tlsup_submit a = c.args();
	a.timeout_ms = 1000;
	ASSERT_EQ(submit(c, a), 0);
	EXPECT_EQ(net->reaper_delay_ms.load(), 3000);
	k.now_ms += 2999;
	tlsup_core_pernet_reap(core());
	EXPECT_EQ(c.cb.calls.load(), 0);
	EXPECT_EQ(net->reaper_delay_ms.load(), 1) << "re-armed for the remaining millisecond";
	k.now_ms += 1;
	tlsup_core_pernet_reap(core());
	EXPECT_EQ(c.cb.calls.load(), 1);
	EXPECT_EQ(c.cb.status.load(), -ETIMEDOUT);
	EXPECT_EQ(stats().expired, 1u);
	EXPECT_EQ(stats().pending, 0u);
	EXPECT_EQ(accept().ret, -EAGAIN);
}

TEST_F(Lifecycle, DeadlineAlsoCoversAcceptedRequests) {
	Consumer &c = consumer();
	tlsup_submit a = c.args();
	a.timeout_ms = 500;
	ASSERT_EQ(submit(c, a), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	k.now_ms += 2500;
	tlsup_core_pernet_reap(core());
	EXPECT_EQ(c.cb.status.load(), -ETIMEDOUT);
	EXPECT_EQ(done(acc.fd, 0), 0) << "a late DONE is a no-op";
	EXPECT_EQ(c.cb.calls.load(), 1);
}

TEST_F(Lifecycle, NoDeadlineWithoutTimeout) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	EXPECT_EQ(net->reaper_arms.load(), 0);
	k.now_ms += 10'000'000;
	tlsup_core_pernet_reap(core());
	EXPECT_EQ(c.cb.calls.load(), 0);
}

TEST_F(Lifecycle, ReaperArmsForEarliestDeadline) {
	Consumer &c1 = consumer();
	Consumer &c2 = consumer();
	tlsup_submit a1 = c1.args(), a2 = c2.args();
	a1.timeout_ms = 5000;
	a2.timeout_ms = 1000;
	ASSERT_EQ(submit(c1, a1), 0);
	EXPECT_EQ(net->reaper_delay_ms.load(), 7000);
	ASSERT_EQ(submit(c2, a2), 0);
	EXPECT_EQ(net->reaper_delay_ms.load(), 3000) << "pulled earlier";
	k.now_ms += 3000;
	tlsup_core_pernet_reap(core());
	EXPECT_EQ(c2.cb.calls.load(), 1);
	EXPECT_EQ(c1.cb.calls.load(), 0);
	EXPECT_EQ(net->reaper_delay_ms.load(), 4000);
}

TEST_F(Lifecycle, NamespaceExitCompletesEveryRequestWithEtimedout) {
	fake::Net *other = k.new_net();
	Consumer &p = consumer(other);
	Consumer &a = consumer(other);
	ASSERT_EQ(submit(a), 0);
	Accepted acc = accept(HANDSHAKE_HANDLER_CLASS_TLSHD, other);
	ASSERT_EQ(acc.ret, 0);
	ASSERT_EQ(submit(p), 0);
	k.destroy_net(other);
	EXPECT_EQ(p.cb.calls.load(), 1);
	EXPECT_EQ(p.cb.status.load(), -ETIMEDOUT);
	EXPECT_EQ(a.cb.calls.load(), 1);
	EXPECT_EQ(a.cb.status.load(), -ETIMEDOUT);
	EXPECT_EQ(p.sk->refs.load(), 1) << "pins released";
	EXPECT_FALSE(tlsup_core_cancel(p.ksk()));
	// The agent's late DONE finds a completed request.
	k.close_fd(acc.fd);
}

TEST_F(Lifecycle, SubmitToDrainingNamespaceIsRefused) {
	fake::Net *other = k.new_net();
	tlsup_core_pernet *cpn = other->core;
	// A submit that found the namespace's state just before its exit.
	tlsup_core_pernet_get(cpn);
	Consumer &held = consumer(other);
	ASSERT_EQ(submit(held), 0);
	k.netns_exit(other);
	EXPECT_EQ(held.cb.status.load(), -ETIMEDOUT);
	Consumer &c = consumer(other);
	tlsup_submit a = c.args();
	EXPECT_EQ(tlsup_core_submit(cpn, &a, 0xcc0), -EOPNOTSUPP) << "the core: draining";
	EXPECT_EQ(submit(c), -EOPNOTSUPP) << "the shim: no state any more";
	EXPECT_EQ(c.sk->destruct.load(), fake::orig_destruct_cookie());
	EXPECT_EQ(c.sk->refs.load(), 1);
	delete other;
	held.sk->net = nullptr;
	c.sk->net = nullptr;
}

TEST_F(Lifecycle, ProcShowListsCountersAndRequests) {
	Consumer &c = consumer();
	tlsup_submit a = c.args(HANDSHAKE_MSG_TYPE_CLIENTHELLO, HANDSHAKE_AUTH_PSK);
	a.num_peerids = 1;
	a.peerids[0] = 77;
	a.peername = "server.example";
	a.timeout_ms = 5000;
	ASSERT_EQ(submit(c, a), 0);
	k.now_ms += 42;
	std::string out;
	tlsup_core_pernet_show(core(), reinterpret_cast<tlsup_seq *>(&out), true);
	EXPECT_NE(out.find("submitted: 1\n"), std::string::npos) << out;
	EXPECT_NE(out.find("pending: 1\n"), std::string::npos) << out;
	EXPECT_NE(out.find("max_pending: 3\n"), std::string::npos) << out;
	EXPECT_NE(out.find("request_bytes: "), std::string::npos) << out;
	EXPECT_NE(out.find("state=pending type=client auth=psk age_ms=42 timeout_ms=5000 "
	                   "peername=server.example"),
	          std::string::npos)
	        << out;
}

TEST_F(Lifecycle, ProcShowListsEndedRequestsUntilTheirSocketGoes) {
	// CI: genl-fuzz ended with "live: 1", pending 0, inflight 0 and an
	// empty request list: an ended request lives until its socket is
	// destroyed, and nothing said which one or what held its socket.
	Consumer &c = consumer();
	tlsup_submit a = c.args();
	a.timeout_ms = 5000;
	ASSERT_EQ(submit(c, a), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	k.now_ms += 10;
	ASSERT_EQ(done(acc.fd, 13), 0);
	k.now_ms += 30;
	auto show = [&] {
		std::string out;
		tlsup_core_pernet_show(core(), reinterpret_cast<tlsup_seq *>(&out), true);
		return out;
	};
	std::string out = show();
	EXPECT_NE(out.find("inflight: 0\n"), std::string::npos) << out;
	EXPECT_NE(out.find("live: 1\n"), std::string::npos) << out;
	// The agent's descriptor and the consumer's file keep the socket:
	// not orphaned; the index's reference is the request's only one.
	EXPECT_NE(out.find("state=ended type=client auth=x509 age_ms=40 timeout_ms=5000 "
	                   "peername=- ending=done status=-13 ended_ms=30 refs=1 "
	                   "sk_state=fake sk_refs=1 sk_wmem=1 orphan=0\n"),
	          std::string::npos)
	        << out;
	// Another namespace's reader does not see it.
	fake::Net *other = k.new_net();
	std::string theirs;
	tlsup_core_pernet_show(core(other), reinterpret_cast<tlsup_seq *>(&theirs), true);
	EXPECT_EQ(theirs.find("state="), std::string::npos) << theirs;
	k.destroy_net(other);
	// Both files go: the socket is destroyed, the request freed, the
	// line gone.
	k.close_fd(acc.fd);
	k.fput(c.file);
	c.file = nullptr;
	consumers.erase(std::find(consumers.begin(), consumers.end(), &c));
	EXPECT_TRUE(c.sk->destroyed.load());
	delete &c;
	out = show();
	EXPECT_NE(out.find("live: 0\n"), std::string::npos) << out;
	EXPECT_EQ(out.find("state="), std::string::npos) << out;
}

TEST_F(Lifecycle, ProcShowListsAnExpiredRequestTheReaperStillHolds) {
	// Ended by the reaper, which still holds its batch reference.
	Consumer &c = consumer();
	tlsup_submit a = c.args();
	a.timeout_ms = 100;
	ASSERT_EQ(submit(c, a), 0);
	k.now_ms += 100 + TLSUP_DEADLINE_GRACE_MS;
	std::string seen;
	bool shown = false;
	c.cb.on_call = [&] {
		// Inside the callback the request is retired: "ended".
		std::string out;
		tlsup_core_pernet_show(core(), reinterpret_cast<tlsup_seq *>(&out), true);
		seen = out;
		shown = true;
	};
	tlsup_core_pernet_reap(core());
	ASSERT_TRUE(shown);
	EXPECT_NE(seen.find("state=ended type=client auth=x509 age_ms="), std::string::npos)
	        << seen;
	EXPECT_NE(seen.find("ending=expire status=-110 ended_ms=0 refs=2 "), std::string::npos)
	        << "the reaper's batch still holds its reference: " << seen;
}

// Review (kbrk) of 532fbc9/2d1491e: the listing is two walks, the
// namespace's queues under its lock, then the index under both locks,
// with both released in between. A DONE that lands between them moves a
// request from "accepted" to "ended": it is listed twice.
TEST_F(Lifecycle, ProcShowListsEachRequestOnceWhenItEndsMidRead) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	bool unlocked = false;
	int done_ret = 1;
	k.on_point = [&](const char *where) {
		// The first lock after an unlock: no lock is held here. (A
		// listing that is one locked walk has no such point.)
		if (!std::strcmp(where, "tlsup_shim_unlock")) {
			unlocked = true;
		} else if (unlocked && !std::strcmp(where, "tlsup_shim_lock")) {
			k.on_point = nullptr;
			done_ret = done(acc.fd, 0);
		}
	};
	std::string out;
	tlsup_core_pernet_show(core(), reinterpret_cast<tlsup_seq *>(&out), true);
	k.on_point = nullptr;
	if (done_ret == 1)
		done_ret = done(acc.fd, 0);
	ASSERT_EQ(done_ret, 0);
	size_t lines = 0;
	for (size_t at = out.find("  id="); at != std::string::npos; at = out.find("  id=", at + 1))
		lines++;
	EXPECT_EQ(lines, 1u) << "one live request, one line: " << out;
}

// Each walk reads the clock before it takes its lock; so do publish() and
// retire(). A request published or ended in between carries a time later
// than the reader's "now": its age wraps to 2^64 - something.
TEST_F(Lifecycle, ProcShowNeverPrintsAWrappedAgeOrEndedTime) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	int nows = 0;
	bool armed = false;
	int done_ret = 1;
	k.on_point = [&](const char *where) {
		// The index walk's clock read is the second; the DONE lands
		// after it, before the walk locks.
		if (!std::strcmp(where, "tlsup_shim_now_ms") && ++nows == 2) {
			armed = true;
		} else if (armed && !std::strcmp(where, "tlsup_shim_lock")) {
			k.on_point = nullptr;
			k.now_ms += 5;
			done_ret = done(acc.fd, 0);
		}
	};
	std::string out;
	tlsup_core_pernet_show(core(), reinterpret_cast<tlsup_seq *>(&out), true);
	k.on_point = nullptr;
	if (done_ret == 1) // a reader that reads its clock under the lock
		done_ret = done(acc.fd, 0);
	ASSERT_EQ(done_ret, 0);
	EXPECT_EQ(out.find("_ms=1844674407"), std::string::npos) << out;

	// The same for age_ms: a submit between the queue walk's clock read
	// and its lock.
	Consumer &c2 = consumer();
	nows = 0;
	int submit_ret = 1;
	k.on_point = [&](const char *where) {
		if (!std::strcmp(where, "tlsup_shim_now_ms") && ++nows == 1) {
			armed = true;
		} else if (armed && !std::strcmp(where, "tlsup_shim_lock")) {
			k.on_point = nullptr;
			k.now_ms += 5;
			submit_ret = submit(c2);
		}
	};
	armed = false;
	out.clear();
	tlsup_core_pernet_show(core(), reinterpret_cast<tlsup_seq *>(&out), true);
	k.on_point = nullptr;
	if (submit_ret == 1)
		submit_ret = submit(c2);
	ASSERT_EQ(submit_ret, 0);
	EXPECT_EQ(out.find("_ms=1844674407"), std::string::npos) << out;
}

// Review (kbrk) of 532fbc9/2d1491e: /proc/net/tlsup is 0444 in every
// namespace, and any user can make one (unshare -Urn). Its read walks the
// whole socket index -- 4096 chains and every request of every namespace,
// ended ones included, which live as long as their sockets (every kTLS
// connection a server handed to the agent) -- under the one global,
// BH-disabling index lock that submit, cancel, DONE and sk_destruct of
// every namespace take; seq_file re-runs the walk each time its buffer
// doubles. A reader of one namespace must not hold what another
// namespace's requests need. FAILS before a fix (a per-namespace list of
// the requests off its queues, so the read never takes the index lock).
TEST_F(Lifecycle, ProcReadOfAnotherNamespaceHoldsNothingThisNamespaceNeeds) {
	Consumer &c = consumer();
	ASSERT_EQ(submit(c), 0);
	Accepted acc = accept();
	ASSERT_EQ(acc.ret, 0);
	ASSERT_EQ(done(acc.fd, 0), 0); // ended, indexed until its socket goes
	fake::Net *theirs = k.new_net();
	const std::thread::id reader = std::this_thread::get_id();
	std::vector<std::thread> lookers;
	bool blocked = false;
	k.on_point = [&](const char *where) {
		// At each lock and clock read of the other namespace's read:
		// can this namespace still find its request?
		if (std::this_thread::get_id() != reader || blocked ||
		    (std::strcmp(where, "tlsup_shim_lock") &&
		     std::strcmp(where, "tlsup_shim_now_ms")))
			return;
		auto finished = std::make_shared<std::promise<void>>();
		auto done_f = finished->get_future();
		lookers.emplace_back([&c, finished] {
			// What cancel, DONE and sk_destruct do first: find the
			// request of this namespace's socket.
			tlsup_core_take_session(c.ksk());
			finished->set_value();
		});
		blocked = done_f.wait_for(std::chrono::milliseconds(200)) !=
		          std::future_status::ready;
	};
	std::string out;
	tlsup_core_pernet_show(core(theirs), reinterpret_cast<tlsup_seq *>(&out), false);
	k.on_point = nullptr;
	for (std::thread &t : lookers)
		t.join();
	ASSERT_FALSE(lookers.empty()) << "the read took no lock and read no clock";
	EXPECT_FALSE(blocked) << "a read of another namespace's /proc/net/tlsup held the lock "
	                         "this namespace's request lookup needs";
	EXPECT_EQ(out.find("state="), std::string::npos) << out;
	k.destroy_net(theirs);
}

TEST_F(Lifecycle, ProcShowHidesPeernamesFromUnprivilegedReaders) {
	// Review finding: /proc/net/tlsup showed every peer's name to anyone.
	Consumer &c = consumer();
	tlsup_submit a = c.args();
	a.peername = "secret-peer.example";
	ASSERT_EQ(submit(c, a), 0);
	std::string out;
	tlsup_core_pernet_show(core(), reinterpret_cast<tlsup_seq *>(&out), false);
	EXPECT_EQ(out.find("secret-peer"), std::string::npos) << out;
	EXPECT_NE(out.find("peername=(hidden)"), std::string::npos) << out;
	EXPECT_NE(out.find("pending: 1\n"), std::string::npos) << "counters stay visible";
}

TEST_F(Lifecycle, HookedSocketWithoutRequestStillChainsADestructor) {
	// A socket whose hook outlived its request (a bug the core warns
	// about) must still be torn down by its family's destructor.
	Consumer &c = consumer();
	c.sk->destruct = fake::hook_cookie();
	k.fput(c.file);
	c.file = nullptr;
	consumers.erase(std::find(consumers.begin(), consumers.end(), &c));
	EXPECT_TRUE(c.sk->destroyed.load());
	EXPECT_EQ(c.sk->default_destruct_calls.load(), 1);
	ASSERT_EQ(k.warnings().size(), 1u);
	EXPECT_EQ(k.warnings()[0], "tlsup: sk_destruct without a request");
	k.reset_warnings_for_test();
	delete &c;
}

} // namespace
} // namespace test
