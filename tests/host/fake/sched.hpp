// SPDX-License-Identifier: GPL-2.0
// A cooperative scheduler for the interleaving explorer. Each competing
// operation runs as a coroutine (its own stack, ucontext), one at a time,
// and they switch only at scheduling points: every shim call the core
// makes (the fake calls point() on entry), the consumer's callback, and
// the fake's own locks, which block cooperatively. A Run fixes every choice
// of "who runs next"; the explorer enumerates runs depth-first.
//
// Outside a run, point() does nothing and the fake's locks are plain
// mutexes, so the TSan race tests use real threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fake::sched {

struct Decision {
	int running;              // coroutine that reached the point (-1: none)
	int chosen;               // coroutine that runs next
	std::vector<int> enabled; // coroutines that could have run
	const char *where;        // the point's name
};

class Run {
public:
	// @forced: the first choices; after them, the running coroutine goes
	// on while it can, else the lowest-numbered enabled one.
	explicit Run(std::vector<int> forced);
	~Run();
	Run(const Run &) = delete;
	Run &operator=(const Run &) = delete;

	// Runs @ops to completion under this schedule, on this thread.
	void execute(const std::vector<std::function<void()>> &ops);

	const std::vector<Decision> &trace() const { return trace_; }
	// One line per decision, for a failure message.
	std::string describe() const;

	// Internal, for point() and the locks.
	void point(const char *where);
	void lock(void *l);
	void unlock(void *l);
	int self() const { return current_; }

	struct Coroutine;

private:
	enum class State { Runnable, Blocked, Done };

	// Records a decision at @where and switches to the chosen coroutine.
	void decide(const char *where);
	std::vector<int> enabled() const;
	void yield(int self);
	static void trampoline(unsigned lo, unsigned hi);

	std::vector<int> forced_;
	std::vector<Decision> trace_;
	std::vector<std::unique_ptr<Coroutine>> cos_;
	std::vector<std::pair<void *, int>> owners_;
	const std::vector<std::function<void()>> *ops_ = nullptr;
	int current_ = -1;
	struct Scheduler;
	std::unique_ptr<Scheduler> main_;
};

// The run in progress on this thread, or nullptr outside the explorer.
Run *current();
void point(const char *where);

} // namespace fake::sched
