// SPDX-License-Identifier: GPL-2.0
// A cooperative scheduler for the interleaving explorer. Each competing
// operation runs as a coroutine (its own stack, ucontext), one at a time,
// and they switch only at scheduling points: every shim call the core
// makes (the fake calls point() on entry), every operation on a kstd
// atomic (the claim's compare-and-swap, reference counts), and the fake's
// own locks, which block cooperatively. A Run fixes every choice of "who
// runs next"; the explorer enumerates runs depth-first.
//
// A run's schedule has a short name: the decisions where it did not take
// the default choice (keep running; else the lowest-numbered enabled
// coroutine), as "step:op,step:op". Run::replay() runs that schedule again.
//
// Outside a run, point() does nothing and the fake's locks are plain
// mutexes, so the TSan race tests use real threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fake::sched {

struct Decision {
	int running;              // coroutine that reached the point (-1: none)
	int chosen;               // coroutine that runs next
	std::vector<int> enabled; // coroutines that could have run
	const char *where;        // the point's name
	bool by_default;          // chosen is what the default policy picks
};

class Run {
public:
	// @forced: the first choices; after them, the running coroutine goes
	// on while it can, else the lowest-numbered enabled one.
	explicit Run(std::vector<int> forced);
	// The schedule named @key (see key()).
	static std::unique_ptr<Run> replay(const std::string &key);
	~Run();
	Run(const Run &) = delete;
	Run &operator=(const Run &) = delete;

	// Runs @ops under this schedule, on this thread, until they all end
	// or none can go on: then deadlock() says why and the blocked
	// coroutines are abandoned (their stacks kept, never resumed).
	void execute(const std::vector<std::function<void()>> &ops);

	const std::vector<Decision> &trace() const { return trace_; }
	// One line per decision, for a failure message.
	std::string describe() const;
	// The schedule's name: its non-default decisions ("" = all default).
	std::string key() const;
	// Empty, or why the run could not finish (a deadlock, a lock held at
	// the end).
	const std::string &stuck() const { return stuck_; }

	// Internal, for point() and the locks.
	void point(const char *where);
	void lock(void *l);
	void unlock(void *l);
	int self() const { return current_; }
	// Write the schedule so far, and its key, to @fd without allocating
	// (for a signal handler).
	void write_trace(int fd) const;
	void write_key(int fd) const;

	struct Coroutine;

private:
	enum class State { Runnable, Blocked, Done };

	// Records a decision at @where and switches to the chosen coroutine.
	void decide(const char *where);
	std::vector<int> enabled() const;
	void yield(int self);
	static void trampoline(unsigned lo, unsigned hi);

	std::vector<int> forced_;
	std::map<size_t, int> overrides_;
	std::vector<Decision> trace_;
	std::vector<std::unique_ptr<Coroutine>> cos_;
	std::vector<std::pair<void *, int>> owners_;
	const std::vector<std::function<void()>> *ops_ = nullptr;
	int current_ = -1;
	std::string stuck_;
	struct Scheduler;
	std::unique_ptr<Scheduler> main_;
};

// The run in progress on this thread, or nullptr outside the explorer.
Run *current();
void point(const char *where);

} // namespace fake::sched
