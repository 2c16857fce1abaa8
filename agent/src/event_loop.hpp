// SPDX-License-Identifier: GPL-2.0
//
// One epoll loop per thread: fd readiness callbacks, one-shot timers, and
// a queue other threads post work to (woken through an eventfd).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "result.hpp"
#include "unique_fd.hpp"

namespace tlsup {

using Clock = std::chrono::steady_clock;

class EventLoop {
public:
	using FdHandler = std::function<void(uint32_t events)>;
	using Task = std::function<void()>;
	using TimerId = uint64_t;

	static Result<std::unique_ptr<EventLoop>> create();

	// Loop thread only.
	Result<void> watch(int fd, uint32_t events, FdHandler handler);
	Result<void> modify(int fd, uint32_t events);
	void unwatch(int fd);
	TimerId add_timer(Clock::time_point when, Task task);
	void cancel_timer(TimerId id);

	// Any thread.
	void post(Task task);
	void stop();

	// Runs until stop(). Returns the number of iterations, for tests.
	Result<void> run();
	// One wait with the given bound (ms); for tests that step a loop.
	Result<void> run_once(int max_wait_ms);

private:
	EventLoop() = default;
	void drain_posted();
	int next_timeout_ms(int max_wait_ms) const;
	void fire_timers();

	UniqueFd epoll_;
	UniqueFd wake_;
	std::unordered_map<int, FdHandler> handlers_;
	std::map<std::pair<Clock::time_point, TimerId>, Task> timers_;
	std::unordered_map<TimerId, Clock::time_point> timer_index_;
	TimerId next_timer_ = 1;

	std::mutex posted_mu_;
	std::vector<Task> posted_;
	bool stopping_ = false; // guarded by posted_mu_
};

} // namespace tlsup
