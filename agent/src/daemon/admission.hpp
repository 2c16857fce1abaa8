// SPDX-License-Identifier: GPL-2.0
//
// The bound on in-flight handshakes, shared by all workers. A worker that
// finds it full stops ACCEPTing (the kernel keeps the requests queued, and
// refuses new ones with -EAGAIN once its own queue is full); the first slot
// freed wakes the workers that stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "pi_mutex.hpp"

namespace tlsup {

class Admission {
public:
	explicit Admission(unsigned limit) : limit_(limit) {}

	// Called (on the releasing thread) when a slot frees after a worker
	// found the bound reached. Register before workers start.
	uint64_t on_slot_free(std::function<void()> wake) {
		std::lock_guard lock(mu_);
		wakers_.emplace_back(++next_waker_, std::move(wake));
		return next_waker_;
	}
	void forget(uint64_t waker) {
		std::lock_guard lock(mu_);
		std::erase_if(wakers_, [waker](const auto &w) { return w.first == waker; });
	}

	// Takes a slot, or marks the caller starved and returns false.
	bool acquire() {
		if (try_take())
			return true;
		// Mark first, then retry: a release between the two either
		// leaves a slot for the retry or sees the mark and wakes us.
		starved_.store(true);
		return try_take();
	}

	void release() {
		inflight_.fetch_sub(1);
		if (starved_.exchange(false)) {
			std::lock_guard lock(mu_);
			for (auto &w : wakers_)
				w.second();
		}
	}

	unsigned inflight() const { return inflight_.load(); }
	unsigned limit() const { return limit_.load(); }
	void set_limit(unsigned limit) {
		limit_.store(limit);
		if (starved_.exchange(false)) {
			std::lock_guard lock(mu_);
			for (auto &w : wakers_)
				w.second();
		}
	}

private:
	bool try_take() {
		unsigned cur = inflight_.load();
		while (cur < limit_.load())
			if (inflight_.compare_exchange_weak(cur, cur + 1))
				return true;
		return false;
	}

	std::atomic<unsigned> inflight_{0};
	std::atomic<unsigned> limit_;
	std::atomic<bool> starved_{false};
	PiMutex mu_; // the acceptor registers; workers wake it
	std::vector<std::pair<uint64_t, std::function<void()>>> wakers_;
	uint64_t next_waker_ = 0;
};

} // namespace tlsup
