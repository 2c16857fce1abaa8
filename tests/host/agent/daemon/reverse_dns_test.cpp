// SPDX-License-Identifier: GPL-2.0
//
// The reverse-DNS pool: its size, its bounded queue, and lookups dropped
// before they run when their request is gone.
#include <atomic>
#include <condition_variable>
#include <gtest/gtest.h>
#include <mutex>
#include <netinet/in.h>

#include "reverse_dns.hpp"

namespace tlsup {
namespace {

using namespace std::chrono_literals;

// A lookup that blocks until opened, counting calls and the most at once.
struct Gate {
	std::mutex mu;
	std::condition_variable cv;
	bool open = false;
	int running = 0, most = 0, calls = 0;

	ReverseResolver::Lookup lookup() {
		return [this](const sockaddr_storage &) -> ReverseResolver::Names {
			std::unique_lock lock(mu);
			calls++;
			most = std::max(most, ++running);
			cv.notify_all();
			cv.wait(lock, [this] { return open; });
			running--;
			return std::vector<std::string>{"name.test"};
		};
	}
	void wait_running(int n) {
		std::unique_lock lock(mu);
		cv.wait_for(lock, 5s, [&] { return running >= n; });
	}
	void release() {
		std::lock_guard lock(mu);
		open = true;
		cv.notify_all();
	}
};

sockaddr_storage loopback() {
	sockaddr_storage ss{};
	auto &in = reinterpret_cast<sockaddr_in &>(ss);
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return ss;
}

TEST(ReverseResolver, PoolSizeIsHowManyLookupsRunAtOnce) {
	Gate gate;
	std::atomic<int> answers{0};
	{
		ReverseResolver r(3, gate.lookup());
		EXPECT_EQ(r.threads(), 3u);
		std::vector<ReverseResolver::Ticket> tickets;
		for (int i = 0; i < 5; i++)
			tickets.push_back(r.resolve(loopback(), [&](ReverseResolver::Names) {
				                   answers++;
			                   }).value());
		gate.wait_running(3);
		std::this_thread::sleep_for(50ms);
		EXPECT_EQ(gate.most, 3);
		EXPECT_EQ(r.queued(), 2u);
		gate.release();
		for (int i = 0; i < 100 && answers.load() < 5; i++)
			std::this_thread::sleep_for(10ms);
	}
	EXPECT_EQ(answers.load(), 5);
	EXPECT_EQ(gate.most, 3);
}

TEST(ReverseResolver, TheQueueIsBounded) {
	Gate gate;
	ReverseResolver r(1, gate.lookup());
	std::vector<ReverseResolver::Ticket> tickets;
	tickets.push_back(r.resolve(loopback(), [](ReverseResolver::Names) {}).value());
	gate.wait_running(1);
	for (size_t i = 0; i < ReverseResolver::kQueuePerThread; i++)
		tickets.push_back(r.resolve(loopback(), [](ReverseResolver::Names) {}).value());
	auto full = r.resolve(loopback(), [](ReverseResolver::Names) {});
	ASSERT_FALSE(full.ok());
	EXPECT_EQ(full.error().code, EAGAIN);
	// A dropped lookup frees its place.
	tickets.pop_back();
	EXPECT_TRUE(r.resolve(loopback(), [](ReverseResolver::Names) {}).ok());
	gate.release();
}

TEST(ReverseResolver, ALookupWhoseTicketIsGoneNeverRuns) {
	Gate gate;
	std::atomic<int> answered{0};
	ReverseResolver r(1, gate.lookup());
	auto busy = r.resolve(loopback(), [&](ReverseResolver::Names) { answered++; }).value();
	gate.wait_running(1);
	{
		auto waiting =
		        r.resolve(loopback(), [&](ReverseResolver::Names) { answered++; }).value();
		EXPECT_EQ(r.queued(), 1u);
	} // the request is gone
	EXPECT_EQ(r.queued(), 0u);
	EXPECT_EQ(r.dropped(), 1u);
	gate.release();
	for (int i = 0; i < 100 && answered.load() < 1; i++)
		std::this_thread::sleep_for(10ms);
	std::this_thread::sleep_for(50ms);
	EXPECT_EQ(answered.load(), 1);
	EXPECT_EQ(gate.calls, 1);
}

} // namespace
} // namespace tlsup
