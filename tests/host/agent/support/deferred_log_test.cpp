// SPDX-License-Identifier: GPL-2.0
//
// DeferredLog: the acceptor's lines reach the journal from another thread,
// in order, with their fields; the queue is bounded and counts what it
// drops; nothing queued is lost when it goes.
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "deferred_log.hpp"

namespace tlsup {
namespace {

struct Written {
	int priority;
	std::string message;
	std::string request; // the TLSUP_REQUEST field, if any
};

struct Rig {
	std::vector<Written> written;
	std::vector<std::function<void()>> posted;
	Log target{Log::Sink([this](const LogRecord &r) {
		written.push_back({r.priority, std::string(r.message),
		                   r.fields ? r.fields->request : std::string("-")});
	})};
	DeferredLog deferred{target, [this](std::function<void()> t) { posted.push_back(t); }};
	void run_posted() {
		auto tasks = std::move(posted);
		posted.clear();
		for (auto &t : tasks)
			t();
	}
};

TEST(DeferredLog, LinesWaitForThePostedTaskAndKeepOrderAndFields) {
	Rig r;
	LOG_WARN(r.deferred.log(), "first %d", 1);
	LogFields f;
	f.request = "a.7";
	LOG_EVENT(r.deferred.log(), kLogNotice, f, "second\nline");
	EXPECT_TRUE(r.written.empty()); // nothing written by the logging thread
	EXPECT_EQ(r.posted.size(), 1u); // one task for both lines
	r.run_posted();
	ASSERT_EQ(r.written.size(), 2u);
	EXPECT_EQ(r.written[0].priority, kLogWarning);
	EXPECT_EQ(r.written[0].message, "first 1");
	EXPECT_EQ(r.written[0].request, "-");
	EXPECT_EQ(r.written[1].priority, kLogNotice);
	EXPECT_EQ(r.written[1].message, "second\\x0aline"); // escaped once, by the first Log
	EXPECT_EQ(r.written[1].request, "a.7");
	LOG_WARN(r.deferred.log(), "third");
	EXPECT_EQ(r.posted.size(), 1u); // a new task once the last one ran
}

TEST(DeferredLog, TheQueueIsBoundedAndSaysWhatItDropped) {
	Rig r;
	for (size_t i = 0; i < DeferredLog::kMaxQueued + 10; i++)
		LOG_WARN(r.deferred.log(), "line %zu", i);
	EXPECT_EQ(r.deferred.dropped(), 10u);
	r.run_posted();
	ASSERT_EQ(r.written.size(), DeferredLog::kMaxQueued + 1);
	EXPECT_EQ(r.written[DeferredLog::kMaxQueued - 1].message,
	          "line " + std::to_string(DeferredLog::kMaxQueued - 1));
	EXPECT_NE(r.written.back().message.find("10 log line(s) of the acceptor dropped"),
	          std::string::npos)
	        << r.written.back().message;
}

TEST(DeferredLog, FollowsItsOwnLevel) {
	Rig r;
	r.deferred.set_level(kLogWarning);
	LOG_INFO(r.deferred.log(), "not this");
	LOG_WARN(r.deferred.log(), "this");
	r.run_posted();
	ASSERT_EQ(r.written.size(), 1u);
	EXPECT_EQ(r.written[0].message, "this");
}

TEST(DeferredLog, NothingQueuedIsLost) {
	std::vector<std::string> written;
	Log target{Log::Sink([&](const LogRecord &r) { written.emplace_back(r.message); })};
	{
		DeferredLog d(target, [](std::function<void()>) {}); // a loop that never runs
		LOG_WARN(d.log(), "queued");
	}
	EXPECT_EQ(written, std::vector<std::string>{"queued"});
	written.clear();
	DeferredLog d(target, [](std::function<void()>) {});
	LOG_WARN(d.log(), "before");
	d.write_directly();
	LOG_WARN(d.log(), "after");
	EXPECT_EQ(written, (std::vector<std::string>{"before", "after"}));
}

} // namespace
} // namespace tlsup
