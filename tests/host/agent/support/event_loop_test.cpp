// SPDX-License-Identifier: GPL-2.0
#include <atomic>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <thread>

#include "event_loop.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

TEST(EventLoop, TimersFireInDeadlineOrderAndCancel) {
	auto loop = EventLoop::create().value();
	std::vector<int> order;
	auto now = Clock::now();
	loop->add_timer(now + 30ms, [&] { order.push_back(3); });
	loop->add_timer(now + 10ms, [&] { order.push_back(1); });
	auto cancelled = loop->add_timer(now + 20ms, [&] { order.push_back(2); });
	loop->add_timer(now + 40ms, [&] { loop->stop(); });
	loop->cancel_timer(cancelled);
	loop->cancel_timer(999999); // unknown: harmless
	ASSERT_TRUE(loop->run().ok());
	EXPECT_EQ(order, (std::vector<int>{1, 3}));
	EXPECT_GE(Clock::now() - now, 40ms);
}

TEST(EventLoop, PostFromAnotherThreadRunsOnTheLoop) {
	auto loop = EventLoop::create().value();
	std::thread::id ran_on;
	std::thread t([&] {
		loop->post([&] {
			ran_on = std::this_thread::get_id();
			loop->stop();
		});
	});
	ASSERT_TRUE(loop->run().ok());
	t.join();
	EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(EventLoop, WatchModifyUnwatch) {
	auto loop = EventLoop::create().value();
	auto fds = unix_pair();
	int reads = 0, writes = 0;
	int fd = fds.first.get();
	ASSERT_TRUE(loop->watch(fd, EPOLLOUT, [&](uint32_t ev) {
		                if (ev & EPOLLOUT)
			                writes++;
		                if (ev & EPOLLIN)
			                reads++;
	                }).ok());
	ASSERT_TRUE(loop->run_once(100).ok());
	EXPECT_EQ(writes, 1);
	ASSERT_TRUE(loop->modify(fd, EPOLLIN).ok());
	ASSERT_TRUE(loop->run_once(20).ok());
	EXPECT_EQ(reads, 0);
	ASSERT_EQ(::write(fds.second.get(), "x", 1), 1);
	ASSERT_TRUE(loop->run_once(100).ok());
	EXPECT_EQ(reads, 1);
	loop->unwatch(fd);
	ASSERT_TRUE(loop->run_once(20).ok());
	EXPECT_EQ(reads, 1);
	EXPECT_FALSE(loop->modify(fd, EPOLLIN).ok());
}

TEST(EventLoop, HandlerMayRemoveItself) {
	auto loop = EventLoop::create().value();
	auto fds = unix_pair();
	int calls = 0;
	int fd = fds.first.get();
	ASSERT_TRUE(loop->watch(fd, EPOLLOUT, [&](uint32_t) {
		                calls++;
		                loop->unwatch(fd);
	                }).ok());
	ASSERT_TRUE(loop->run_once(100).ok());
	ASSERT_TRUE(loop->run_once(20).ok());
	EXPECT_EQ(calls, 1);
}

} // namespace
} // namespace tlsup::test
