// SPDX-License-Identifier: GPL-2.0
// Exactly-once under races: cancel, DONE, the deadline reaper, ACCEPT and
// submit from several threads, many rounds. Built also with TSan.
#include <barrier>
#include <thread>

#include "harness.hpp"

namespace test {
namespace {

using Race = CoreTest;

constexpr int kRounds = 400;

TEST_F(Race, CancelVersusDoneVersusDeadline) {
	for (int round = 0; round < kRounds; round++) {
		Consumer &c = consumer();
		tlsup_submit a = c.args();
		a.timeout_ms = 1;
		ASSERT_EQ(submit(c, a), 0);
		Accepted acc = accept();
		ASSERT_EQ(acc.ret, 0);
		k.now_ms += 10'000; // past the deadline: the reaper may fire now

		std::atomic<bool> cancelled{false};
		std::barrier start(3);
		std::thread t1([&] {
			start.arrive_and_wait();
			cancelled = tlsup_core_cancel(c.ksk());
		});
		std::thread t2([&] {
			start.arrive_and_wait();
			done(acc.fd, 0);
		});
		std::thread t3([&] {
			start.arrive_and_wait();
			tlsup_core_pernet_reap(core());
		});
		t1.join();
		t2.join();
		t3.join();

		const int calls = c.cb.calls.load();
		ASSERT_LE(calls, 1) << "round " << round;
		ASSERT_NE(cancelled.load(), calls == 1)
		        << "round " << round << ": callback ran XOR cancel returned true";
		ASSERT_EQ(c.sk->refs.load(), 1) << "pins released exactly once";
		k.close_fd(acc.fd);
	}
	tlsup_stats s = stats();
	EXPECT_EQ(s.inflight, 0u);
	EXPECT_EQ(s.cancelled + s.completed, static_cast<unsigned long long>(kRounds));
}

TEST_F(Race, CancelVersusAccept) {
	for (int round = 0; round < kRounds; round++) {
		Consumer &c = consumer();
		ASSERT_EQ(submit(c), 0);
		std::atomic<bool> cancelled{false};
		Accepted acc;
		std::barrier start(2);
		std::thread t1([&] {
			start.arrive_and_wait();
			cancelled = tlsup_core_cancel(c.ksk());
		});
		std::thread t2([&] {
			start.arrive_and_wait();
			acc = accept();
		});
		t1.join();
		t2.join();
		ASSERT_TRUE(cancelled.load()) << "nothing completed it, so cancel wins";
		if (acc.ret == 0) {
			// The agent got the socket anyway; its DONE changes nothing.
			ASSERT_EQ(k.fd_file(acc.fd), c.file);
			ASSERT_EQ(done(acc.fd, 0), 0);
			k.close_fd(acc.fd);
		} else {
			ASSERT_EQ(acc.ret, -EAGAIN);
		}
		ASSERT_EQ(c.cb.calls.load(), 0);
		ASSERT_EQ(c.file->refs.load(), 1);
		ASSERT_EQ(c.sk->refs.load(), 1);
	}
}

TEST_F(Race, AgentCompletesWhileSubmitIsStillReturning) {
	// Upstream bug class: the sock must be pinned before the request is
	// published, or an agent's DONE drops a reference never taken.
	k.max_pending = 1000;
	std::atomic<bool> stop{false};
	std::atomic<int> agent_done{0};
	std::thread agent([&] {
		while (!stop.load()) {
			Accepted acc = accept();
			if (acc.ret == 0) {
				done(acc.fd, 0);
				k.close_fd(acc.fd);
				agent_done++;
			}
		}
	});
	std::vector<Consumer *> cs;
	for (int i = 0; i < kRounds; i++) {
		Consumer &c = consumer();
		ASSERT_EQ(submit(c), 0);
		cs.push_back(&c);
	}
	while (agent_done.load() < kRounds)
		std::this_thread::yield();
	stop = true;
	agent.join();
	for (Consumer *c : cs) {
		ASSERT_EQ(c->cb.calls.load(), 1);
		ASSERT_EQ(c->sk->refs.load(), 1);
	}
}

TEST_F(Race, NamespaceDrainVersusDone) {
	for (int round = 0; round < kRounds / 4; round++) {
		fake::Net *other = k.new_net();
		Consumer &c = consumer(other);
		ASSERT_EQ(submit(c), 0);
		Accepted acc = accept(HANDSHAKE_HANDLER_CLASS_TLSHD, other);
		ASSERT_EQ(acc.ret, 0);
		std::barrier start(2);
		std::thread t1([&] {
			start.arrive_and_wait();
			done(acc.fd, 0, {}, other);
		});
		std::thread t2([&] {
			start.arrive_and_wait();
			k.netns_exit(other);
		});
		t1.join();
		t2.join();
		ASSERT_EQ(c.cb.calls.load(), 1);
		const int st = c.cb.status.load();
		ASSERT_TRUE(st == 0 || st == -ETIMEDOUT) << st;
		k.close_fd(acc.fd);
		c.sk->net = nullptr;
		delete other;
	}
}

} // namespace
} // namespace test
