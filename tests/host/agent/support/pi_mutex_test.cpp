// SPDX-License-Identifier: GPL-2.0
//
// PiMutex: while the real-time acceptor waits for a lock, its holder runs at
// the acceptor's priority (no priority inversion behind ordinary threads).
// Needs CAP_SYS_NICE to make a thread real-time (skipped without).
#include <atomic>
#include <chrono>
#include <fstream>
#include <gtest/gtest.h>
#include <mutex>
#include <sched.h>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <unistd.h>

#include "acceptor.hpp"
#include "admission.hpp"
#include "credentials.hpp"
#include "event_loop.hpp"
#include "keyring_linker.hpp"
#include "peer_limit.hpp"
#include "pi_mutex.hpp"
#include "request_keyring.hpp"

namespace tlsup {
namespace {

using namespace std::chrono_literals;

// The kernel's "priority" of thread TID (field 18 of its stat): 20 + nice
// for SCHED_OTHER, -1 - rt_priority for a real-time policy.
int kernel_priority(pid_t tid) {
	std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
	std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	std::istringstream rest(stat.substr(stat.rfind(')') + 2));
	std::string field;
	for (int i = 3; i <= 18 && rest >> field; i++)
		if (i == 18)
			return std::stoi(field);
	return 1000;
}

template <class Mutex>
struct Inversion {
	int holder_before = 0, holder_waited = 0, holder_after = 0;
	bool realtime = false;
	void run() {
		Mutex m;
		std::atomic<pid_t> holder{0};
		std::atomic<bool> waiter_started{false}, release{false};
		std::thread h([&] {
			std::lock_guard lock(m);
			holder = gettid();
			while (!release)
				std::this_thread::sleep_for(1ms);
		});
		while (!holder)
			std::this_thread::sleep_for(1ms);
		holder_before = kernel_priority(holder);
		std::thread w([&] {
			sched_param sp{};
			sp.sched_priority = 1;
			realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
			waiter_started = true;
			if (realtime)
				std::lock_guard lock(m);
		});
		while (!waiter_started)
			std::this_thread::sleep_for(1ms);
		// The waiter blocks in the lock: give it time to get there.
		for (int i = 0; i < 200 && realtime && kernel_priority(holder) == holder_before;
		     i++)
			std::this_thread::sleep_for(5ms);
		holder_waited = kernel_priority(holder);
		release = true;
		h.join();
		w.join();
	}
};

TEST(PiMutex, AHolderRunsAtThePriorityOfARealtimeWaiter) {
	Inversion<PiMutex> t;
	t.run();
	if (!t.realtime)
		GTEST_SKIP() << "cannot make a thread real-time here (needs CAP_SYS_NICE)";
	EXPECT_GE(t.holder_before, 0);  // SCHED_OTHER
	EXPECT_EQ(t.holder_waited, -2); // boosted to SCHED_FIFO 1
}

// What PiMutex prevents: a std::mutex holder keeps its own priority.
TEST(PiMutex, AStdMutexHolderIsNotBoosted) {
	Inversion<std::mutex> t;
	t.run();
	if (!t.realtime)
		GTEST_SKIP() << "cannot make a thread real-time here (needs CAP_SYS_NICE)";
	EXPECT_EQ(t.holder_waited, t.holder_before);
}

TEST(PiMutex, TryLockAndUniqueLock) {
	PiMutex m;
	std::unique_lock lock(m);
	bool other = true;
	std::thread([&] { other = m.try_lock(); }).join();
	EXPECT_FALSE(other);
	lock.unlock();
	std::thread([&] {
		other = m.try_lock();
		if (other)
			m.unlock();
	}).join();
	EXPECT_TRUE(other);
}

} // namespace
} // namespace tlsup
