// SPDX-License-Identifier: GPL-2.0
//
// One epoll loop per thread: fd readiness callbacks, one-shot timers, and
// a queue other threads post work to (woken through an eventfd). Another
// thread may also put an fd into the loop's epoll set (add_foreign): that
// is how the acceptor hands a socket to a worker without waking it twice.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "pi_mutex.hpp"
#include "result.hpp"
#include "unique_fd.hpp"

namespace tlsup {

using Clock = std::chrono::steady_clock;

// CLOCK_MONOTONIC_COARSE as a Clock::time_point (the same clock, read at
// the last tick): always answered by the vDSO, where a guest without a
// usable TSC turns every precise read into a system call. Timers and
// deadlines use it; latencies worth microseconds read Clock.
Clock::time_point coarse_now();

class EventLoop {
public:
	using FdHandler = std::function<void(uint32_t events)>;
	using Task = std::function<void()>;
	using TimerId = uint64_t;
	using FdHandler2 = std::function<void(int fd, uint32_t events)>;

	static Result<std::unique_ptr<EventLoop>> create();

	// Loop thread only.
	Result<void> watch(int fd, uint32_t events, FdHandler handler);
	// An fd another thread added (add_foreign) gets its handler here,
	// without a system call.
	void adopt(int fd, FdHandler handler);
	// What runs for events on an fd without a handler (an add_foreign()
	// one not yet adopted). Set before run().
	void on_unknown_fd(FdHandler2 handler) { unknown_ = std::move(handler); }
	Result<void> modify(int fd, uint32_t events);
	void unwatch(int fd);
	// Takes FD out of the epoll set, handler or not.
	void forget(int fd);
	// WHEN is on Clock's (and coarse_now()'s) time line; the timer runs
	// once coarse_now() has passed it: never early, at most a tick late.
	TimerId add_timer(Clock::time_point when, Task task);
	void cancel_timer(TimerId id);

	// Any thread.
	void post(Task task);
	// Puts FD in this loop's epoll set (EVENTS); its events go to the
	// on_unknown_fd() handler until the loop's thread adopts it.
	Result<void> add_foreign(int fd, uint32_t events);
	void stop();

	// Runs until stop(). Returns the number of iterations, for tests.
	Result<void> run();
	// One wait with the given bound (ms); for tests that step a loop.
	Result<void> run_once(int max_wait_ms);
	// How many times the loop's wait returned: a test's measure of wakeups.
	uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

private:
	EventLoop() = default;
	void drain_posted();
	int next_timeout_ms(int max_wait_ms) const;
	void fire_timers();

	UniqueFd epoll_;
	UniqueFd wake_;
	std::unordered_map<int, FdHandler> handlers_;
	FdHandler2 unknown_;
	std::map<std::pair<Clock::time_point, TimerId>, Task> timers_;
	std::unordered_map<TimerId, Clock::time_point> timer_index_;
	TimerId next_timer_ = 1;

	std::atomic<uint64_t> wakeups_{0};
	PiMutex posted_mu_; // other threads post, the acceptor among them
	std::vector<Task> posted_;
	bool stopping_ = false; // guarded by posted_mu_
};

} // namespace tlsup
