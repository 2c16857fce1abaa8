// SPDX-License-Identifier: GPL-2.0
#include "event_loop.hpp"

#include <cstring>
#include <ctime>
#include <sys/epoll.h>
#include <sys/eventfd.h>

namespace tlsup {

Clock::time_point coarse_now() {
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
	        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

namespace {

// How far the coarse clock may lag a precise one: its resolution.
std::chrono::milliseconds coarse_lag() {
	static const std::chrono::milliseconds lag = [] {
		timespec res{};
		clock_getres(CLOCK_MONOTONIC_COARSE, &res);
		auto ns = std::chrono::seconds(res.tv_sec) + std::chrono::nanoseconds(res.tv_nsec);
		return std::chrono::ceil<std::chrono::milliseconds>(ns);
	}();
	return lag;
}

} // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
	auto loop = std::unique_ptr<EventLoop>(new EventLoop());
	loop->epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
	if (!loop->epoll_.valid())
		return make_error(errno, "epoll_create1: %s", strerror(errno));
	loop->wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (!loop->wake_.valid())
		return make_error(errno, "eventfd: %s", strerror(errno));
	EventLoop *self = loop.get();
	TRY(loop->watch(loop->wake_.get(), EPOLLIN, [self](uint32_t) {
		uint64_t v;
		while (::read(self->wake_.get(), &v, sizeof(v)) > 0) {
		}
		self->drain_posted();
	}));
	return loop;
}

Result<void> EventLoop::watch(int fd, uint32_t events, FdHandler handler) {
	epoll_event ev{};
	ev.events = events;
	ev.data.fd = fd;
	if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
		return make_error(errno == ENOMEM ? ENOMEM : EIO, "epoll_ctl(ADD, %d): %s", fd,
		                  strerror(errno));
	handlers_[fd] = std::move(handler);
	return {};
}

void EventLoop::adopt(int fd, FdHandler handler) {
	handlers_[fd] = std::move(handler);
}

Result<void> EventLoop::add_foreign(int fd, uint32_t events) {
	epoll_event ev{};
	ev.events = events;
	ev.data.fd = fd;
	if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
		return make_error(errno == ENOMEM ? ENOMEM : EIO, "epoll_ctl(ADD, %d): %s", fd,
		                  strerror(errno));
	return {};
}

Result<void> EventLoop::modify(int fd, uint32_t events) {
	epoll_event ev{};
	ev.events = events;
	ev.data.fd = fd;
	if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) < 0)
		return make_error(EIO, "epoll_ctl(MOD, %d): %s", fd, strerror(errno));
	return {};
}

void EventLoop::unwatch(int fd) {
	if (handlers_.erase(fd))
		epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::forget(int fd) {
	handlers_.erase(fd);
	epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::add_timer(Clock::time_point when, Task task) {
	TimerId id = next_timer_++;
	timers_.emplace(std::make_pair(when, id), std::move(task));
	timer_index_[id] = when;
	return id;
}

void EventLoop::cancel_timer(TimerId id) {
	auto it = timer_index_.find(id);
	if (it == timer_index_.end())
		return;
	timers_.erase(std::make_pair(it->second, id));
	timer_index_.erase(it);
}

void EventLoop::post(Task task) {
	{
		std::lock_guard lock(posted_mu_);
		posted_.push_back(std::move(task));
	}
	uint64_t one = 1;
	(void)!::write(wake_.get(), &one, sizeof(one));
}

void EventLoop::stop() {
	{
		std::lock_guard lock(posted_mu_);
		stopping_ = true;
	}
	uint64_t one = 1;
	(void)!::write(wake_.get(), &one, sizeof(one));
}

void EventLoop::drain_posted() {
	std::vector<Task> tasks;
	{
		std::lock_guard lock(posted_mu_);
		tasks.swap(posted_);
	}
	for (auto &t : tasks)
		t();
}

int EventLoop::next_timeout_ms(int max_wait_ms) const {
	if (timers_.empty())
		return max_wait_ms;
	// Until the coarse clock has passed the deadline: it lags by up to
	// its resolution.
	auto delta = timers_.begin()->first.first - coarse_now() + coarse_lag();
	auto ms = std::chrono::ceil<std::chrono::milliseconds>(delta).count();
	if (ms < 0)
		ms = 0;
	if (max_wait_ms >= 0 && ms > max_wait_ms)
		ms = max_wait_ms;
	return static_cast<int>(ms);
}

void EventLoop::fire_timers() {
	if (timers_.empty())
		return;
	auto now = coarse_now();
	while (!timers_.empty() && timers_.begin()->first.first <= now) {
		auto node = timers_.extract(timers_.begin());
		timer_index_.erase(node.key().second);
		node.mapped()();
	}
}

Result<void> EventLoop::run_once(int max_wait_ms) {
	epoll_event events[64];
	int n = epoll_wait(epoll_.get(), events, 64, next_timeout_ms(max_wait_ms));
	if (n < 0 && errno != EINTR)
		return make_error(EIO, "epoll_wait: %s", strerror(errno));
	wakeups_.fetch_add(1, std::memory_order_relaxed);
	for (int i = 0; i < n; i++) {
		// A handler may have removed (or replaced) this fd's handler.
		auto it = handlers_.find(events[i].data.fd);
		if (it == handlers_.end()) {
			if (unknown_)
				unknown_(events[i].data.fd, events[i].events);
			continue;
		}
		FdHandler h = it->second;
		h(events[i].events);
	}
	fire_timers();
	return {};
}

Result<void> EventLoop::run() {
	for (;;) {
		{
			std::lock_guard lock(posted_mu_);
			if (stopping_)
				return {};
		}
		TRY(run_once(-1));
	}
}

} // namespace tlsup
