// SPDX-License-Identifier: GPL-2.0
//
// The agent's thread scheduling (thread_priority.hpp): the acceptor enters
// SCHED_FIFO or keeps the real-time policy it inherited from the unit;
// every other thread leaves an inherited real-time policy, its nice value
// kept. Needs CAP_SYS_NICE to make a thread real-time (skipped without).
#include <atomic>
#include <cerrno>
#include <cstring>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "reverse_dns.hpp"
#include "thread_priority.hpp"

namespace tlsup {
namespace {

struct Sched {
	int policy = -1;
	int priority = -1;
	int nice = 0;
};

Sched current() {
	Sched s;
	s.policy = sched_getscheduler(0);
	sched_param sp{};
	sched_getparam(0, &sp);
	s.priority = sp.sched_priority;
	errno = 0;
	s.nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
	return s;
}

// Runs BODY on a new thread that is POLICY at PRIORITY (as a unit's
// CPUSchedulingPolicy= would make every thread of the service); false when
// the policy may not be set here.
template <class Body>
bool on_thread_with(int policy, int priority, Body body) {
	bool ok = false;
	std::thread([&] {
		sched_param sp{};
		sp.sched_priority = priority;
		if (sched_setscheduler(0, policy, &sp) < 0)
			return;
		ok = true;
		body();
	}).join();
	return ok;
}

#define SKIP_WITHOUT_RT(ran)                                                                       \
	if (!(ran))                                                                                \
	GTEST_SKIP() << "cannot make a thread real-time here (needs CAP_SYS_NICE)"

TEST(ThreadPriority, EnterRealtimeMakesTheThreadFifoAtTheLowestPriority) {
	Sched after;
	bool entered = false;
	std::string why;
	std::thread([&] {
		auto r = enter_realtime();
		entered = r.ok();
		if (!r)
			why = r.error().reason;
		after = current();
	}).join();
	if (!entered && why.find("Operation not permitted") != std::string::npos)
		GTEST_SKIP() << why;
	ASSERT_TRUE(entered) << why;
	EXPECT_EQ(after.policy, SCHED_FIFO | SCHED_RESET_ON_FORK);
	EXPECT_EQ(after.priority, kAcceptorRtPriority);
	// The test's own thread is untouched.
	EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
}

// In a child process without CAP_SYS_NICE and with RLIMIT_RTPRIO at
// RTPRIO (as the unit runs the agent: LimitRTPRIO=1): enter_realtime()'s
// result (0 ok, else its errno) and whether SCHED_FIFO 2 is refused.
struct Unprivileged {
	int setup = -1; // 0, or the errno of capset/setrlimit
	int entered = -1;
	bool fifo = false, priority_two_refused = false;
};
Unprivileged enter_without_cap_sys_nice(rlim_t rtprio) {
	int fds[2];
	if (pipe(fds) < 0)
		return {};
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		Unprivileged u;
		__user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
		__user_cap_data_struct d[2]{};
		syscall(SYS_capget, &h, d);
		for (auto *set : {&d[CAP_SYS_NICE / 32].effective, &d[CAP_SYS_NICE / 32].permitted})
			*set &= ~(1u << (CAP_SYS_NICE % 32));
		rlimit rl{rtprio, rtprio};
		u.setup = syscall(SYS_capset, &h, d) == 0 && setrlimit(RLIMIT_RTPRIO, &rl) == 0
		                  ? 0
		                  : errno;
		if (u.setup == 0) {
			auto r = enter_realtime();
			u.entered = r ? 0 : r.error().code;
			u.fifo = (sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == SCHED_FIFO;
			sched_param sp{};
			sp.sched_priority = 2;
			u.priority_two_refused =
			        sched_setscheduler(0, SCHED_FIFO, &sp) < 0 && errno == EPERM;
		}
		(void)!write(fds[1], &u, sizeof(u));
		_exit(0);
	}
	close(fds[1]);
	Unprivileged u;
	if (read(fds[0], &u, sizeof(u)) != sizeof(u))
		u = {};
	close(fds[0]);
	waitpid(pid, nullptr, 0);
	return u;
}

// The unit's way: LimitRTPRIO=1 and no CAP_SYS_NICE.
TEST(ThreadPriority, EnterRealtimeNeedsOnlyRlimitRtprioOne) {
	auto u = enter_without_cap_sys_nice(1);
	if (u.setup == EPERM)
		GTEST_SKIP() << "cannot raise RLIMIT_RTPRIO here (needs CAP_SYS_RESOURCE); the "
		                "systemd suite runs the unit";
	ASSERT_EQ(u.setup, 0) << strerror(u.setup);
	EXPECT_EQ(u.entered, 0);
	EXPECT_TRUE(u.fifo);
	EXPECT_TRUE(u.priority_two_refused); // nothing above 1
}

TEST(ThreadPriority, EnterRealtimeWithoutTheLimitSaysEperm) {
	auto u = enter_without_cap_sys_nice(0);
	ASSERT_EQ(u.setup, 0) << strerror(u.setup);
	EXPECT_EQ(u.entered, EPERM);
	EXPECT_FALSE(u.fifo);
}

TEST(ThreadPriority, EnterRealtimeKeepsTheRealtimePolicyItInherited) {
	Sched after;
	bool realtime = false;
	bool ran = on_thread_with(SCHED_RR, 3, [&] {
		std::thread([&] {
			EXPECT_TRUE(enter_realtime().ok());
			realtime = thread_is_realtime();
			after = current();
		}).join();
	});
	SKIP_WITHOUT_RT(ran);
	EXPECT_TRUE(realtime);
	EXPECT_EQ(after.policy, SCHED_RR); // not changed to SCHED_FIFO 1
	EXPECT_EQ(after.priority, 3);
}

TEST(ThreadPriority, LeaveRealtimeDropsAnInheritedPolicyAndKeepsTheNiceValue) {
	Sched before, after;
	bool realtime = true;
	bool ran = on_thread_with(SCHED_FIFO, 1, [&] {
		setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 4);
		std::thread([&] {
			before = current();
			EXPECT_TRUE(leave_realtime().ok());
			realtime = thread_is_realtime();
			after = current();
		}).join();
	});
	SKIP_WITHOUT_RT(ran);
	EXPECT_EQ(before.policy, SCHED_FIFO); // inherited
	EXPECT_FALSE(realtime);
	EXPECT_EQ(after.policy, SCHED_OTHER);
	EXPECT_EQ(after.nice, 4);
}

TEST(ThreadPriority, LeaveRealtimeLeavesANormalThreadAsItIs) {
	Sched after;
	std::thread([&] {
		setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 2);
		EXPECT_TRUE(leave_realtime().ok());
		after = current();
	}).join();
	EXPECT_EQ(after.policy, SCHED_OTHER);
	EXPECT_EQ(after.nice, 2);
}

// The resolver's threads are started with the agent, while the main thread
// still has the unit's policy: they leave it.
TEST(ThreadPriority, ResolverThreadsLeaveAnInheritedRealtimePolicy) {
	std::atomic<int> policy{-1};
	std::atomic<bool> answered{false};
	std::unique_ptr<ReverseResolver> resolver;
	bool ran = on_thread_with(SCHED_FIFO, 1, [&] {
		resolver = std::make_unique<ReverseResolver>(
		        1, [&](const sockaddr_storage &) -> ReverseResolver::Names {
			        policy = sched_getscheduler(0);
			        return std::vector<std::string>{};
		        });
	});
	SKIP_WITHOUT_RT(ran);
	sockaddr_storage addr{};
	addr.ss_family = AF_INET;
	auto ticket = resolver->resolve(addr, [&](ReverseResolver::Names) { answered = true; });
	ASSERT_TRUE(ticket.ok());
	for (int i = 0; i < 500 && !answered; i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	ASSERT_TRUE(answered);
	EXPECT_EQ(policy.load(), SCHED_OTHER);
}

} // namespace
} // namespace tlsup
