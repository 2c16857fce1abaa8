// SPDX-License-Identifier: GPL-2.0
// A cooperative scheduler for the interleaving explorer. Each competing
// operation runs in its own thread, but only one runs at a time, and they
// switch only at scheduling points: every shim call the core makes (the
// fake calls point() on entry), the consumer's callback, and the fake's
// own locks, which block cooperatively. A Schedule fixes every choice of
// "who runs next"; the explorer enumerates schedules depth-first.
//
// Outside a run, point() does nothing and the fake's locks are plain
// mutexes, so the TSan race tests use real concurrency.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace fake::sched {

struct Decision {
	int running;              // thread that reached the point (-1: none)
	int chosen;               // thread that runs next
	std::vector<int> enabled; // threads that could have run
	const char *where;        // the point's name
};

class Run {
public:
	// @forced: the first choices; after them, the running thread goes on
	// while it can, else the lowest-numbered enabled one.
	explicit Run(std::vector<int> forced) : forced_(std::move(forced)) {}
	Run(const Run &) = delete;
	Run &operator=(const Run &) = delete;

	// Runs @ops to completion under this schedule.
	void execute(const std::vector<std::function<void()>> &ops);

	const std::vector<Decision> &trace() const { return trace_; }
	// One line per decision, for a failure message.
	std::string describe() const;

	// Internal, for point() and the locks.
	void point(const char *where);
	void lock(void *l);
	void unlock(void *l);
	bool holds(void *l);

private:
	enum class State { Runnable, Blocked, Done };
	struct Thread {
		State state = State::Runnable;
		void *waiting_for = nullptr;
	};

	// Picks the next thread and waits until it is this one's turn again.
	void switch_from(int self, const char *where, std::unique_lock<std::mutex> &g);
	std::vector<int> enabled_locked() const;

	std::vector<int> forced_;
	std::vector<Decision> trace_;
	std::mutex mu_;
	std::condition_variable cv_;
	std::vector<Thread> threads_;
	std::vector<std::pair<void *, int>> owners_;
	int current_ = -1;
};

// The thread's run, or nullptr outside the explorer.
Run *current();
void point(const char *where);

} // namespace fake::sched
