// SPDX-License-Identifier: GPL-2.0
#include "sched.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <ucontext.h>
#include <unistd.h>

// AddressSanitizer must be told about stack switches (fibers).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TLSUP_SCHED_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TLSUP_SCHED_ASAN 1
#endif
#ifdef TLSUP_SCHED_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace fake::sched {

namespace {

constexpr size_t kStack = 512 * 1024;
thread_local Run *t_run = nullptr;

void start_switch(void **save, const void *bottom, size_t size) {
#ifdef TLSUP_SCHED_ASAN
	__sanitizer_start_switch_fiber(save, bottom, size);
#else
	(void)save, (void)bottom, (void)size;
#endif
}

void finish_switch(void *save, const void **bottom, size_t *size) {
#ifdef TLSUP_SCHED_ASAN
	__sanitizer_finish_switch_fiber(save, bottom, size);
#else
	(void)save, (void)bottom, (void)size;
#endif
}

// Stacks are reused from run to run (tens of thousands of runs); a stack
// of an abandoned (deadlocked) coroutine is never reused.
std::vector<std::unique_ptr<char[]>> &stack_pool() {
	static std::vector<std::unique_ptr<char[]>> pool;
	return pool;
}

} // namespace

struct Run::Coroutine {
	ucontext_t ctx{};
	std::unique_ptr<char[]> stack;
	State state = State::Runnable;
	void *waiting_for = nullptr;
	void *fake_stack = nullptr;

	Coroutine() {
		auto &pool = stack_pool();
		if (pool.empty()) {
			stack.reset(new char[kStack]);
		} else {
			stack = std::move(pool.back());
			pool.pop_back();
		}
	}
	~Coroutine() {
		if (stack)
			stack_pool().push_back(std::move(stack));
	}
};

namespace {

// Coroutines of deadlocked runs: never resumed, never freed (their stacks
// still hold the only pointers to what they allocated).
std::vector<std::unique_ptr<Run::Coroutine>> &graveyard() {
	static auto *g = new std::vector<std::unique_ptr<Run::Coroutine>>;
	return *g;
}

} // namespace

struct Run::Scheduler {
	ucontext_t ctx{};
	void *fake_stack = nullptr;
	const void *bottom = nullptr;
	size_t size = 0;
};

Run *current() {
	return t_run;
}

void point(const char *where) {
	if (t_run && t_run->self() >= 0)
		t_run->point(where);
}

Run::Run(std::vector<int> forced) : forced_(std::move(forced)), main_(new Scheduler) {}

std::unique_ptr<Run> Run::replay(const std::string &key) {
	auto run = std::make_unique<Run>(std::vector<int>{});
	std::istringstream in(key);
	std::string item;
	while (std::getline(in, item, ',')) {
		const size_t colon = item.find(':');
		if (colon == std::string::npos)
			continue;
		run->overrides_[std::stoul(item.substr(0, colon))] =
		        std::stoi(item.substr(colon + 1));
	}
	return run;
}

Run::~Run() = default;

std::vector<int> Run::enabled() const {
	std::vector<int> out;
	for (int i = 0; i < static_cast<int>(cos_.size()); i++) {
		const Coroutine &c = *cos_[i];
		if (c.state == State::Runnable) {
			out.push_back(i);
		} else if (c.state == State::Blocked) {
			bool free = std::none_of(owners_.begin(), owners_.end(),
			                         [&](auto &o) { return o.first == c.waiting_for; });
			if (free)
				out.push_back(i);
		}
	}
	return out;
}

void Run::decide(const char *where) {
	const int self = current_;
	std::vector<int> en = enabled();
	int next = -1;
	if (!en.empty()) {
		const size_t step = trace_.size();
		auto is_enabled = [&](int c) {
			return std::find(en.begin(), en.end(), c) != en.end();
		};
		const int dflt = self >= 0 && is_enabled(self) ? self : en.front();
		next = dflt;
		if (step < forced_.size()) {
			if (is_enabled(forced_[step]))
				next = forced_[step];
		} else if (auto it = overrides_.find(step); it != overrides_.end()) {
			if (is_enabled(it->second))
				next = it->second;
		}
		trace_.push_back({self, next, std::move(en), where, next == dflt});
	} else if (std::any_of(cos_.begin(), cos_.end(),
	                       [](auto &c) { return c->state != State::Done; })) {
		std::ostringstream os;
		os << "deadlock at " << where << ":";
		for (size_t i = 0; i < cos_.size(); i++) {
			if (cos_[i]->state != State::Blocked)
				continue;
			int owner = -1;
			for (auto &o : owners_)
				if (o.first == cos_[i]->waiting_for)
					owner = o.second;
			os << " op " << i << " waits for a lock op " << owner << " holds;";
		}
		stuck_ = os.str();
	}
	current_ = next;
	if (next == self)
		return;
	// To the scheduler, which resumes @next (or ends the run). A
	// coroutine stuck in a deadlock is never resumed.
	if (self >= 0 && cos_[self]->state != State::Done)
		yield(self);
}

// Back to the scheduler's context; returns when it resumes @self.
void Run::yield(int self) {
	Coroutine &c = *cos_[self];
	start_switch(&c.fake_stack, main_->bottom, main_->size);
	swapcontext(&c.ctx, &main_->ctx);
	finish_switch(c.fake_stack, nullptr, nullptr);
}

void Run::point(const char *where) {
	decide(where);
}

void Run::lock(void *l) {
	for (;;) {
		bool held = std::any_of(owners_.begin(), owners_.end(),
		                        [&](auto &o) { return o.first == l; });
		if (!held) {
			owners_.push_back({l, current_});
			return;
		}
		Coroutine &c = *cos_[current_];
		c.state = State::Blocked;
		c.waiting_for = l;
		decide("lock (contended)");
		c.state = State::Runnable; // chosen again: the lock is free
		c.waiting_for = nullptr;
	}
}

void Run::unlock(void *l) {
	for (auto it = owners_.begin(); it != owners_.end(); ++it)
		if (it->first == l && it->second == current_) {
			owners_.erase(it);
			return;
		}
	std::fprintf(stderr, "explorer: unlock of a lock this coroutine does not hold\n");
	std::abort();
}

void Run::trampoline(unsigned lo, unsigned hi) {
	Run *run = reinterpret_cast<Run *>((static_cast<uintptr_t>(hi) << 32) | lo);
	const int self = run->current_;
	finish_switch(nullptr, &run->main_->bottom, &run->main_->size);
	(*run->ops_)[self]();
	run->cos_[self]->state = State::Done;
	run->decide("exit");
	// Back to the scheduler for good: this fiber's stack is done.
	start_switch(nullptr, run->main_->bottom, run->main_->size);
}

void Run::execute(const std::vector<std::function<void()>> &ops) {
	ops_ = &ops;
	cos_.clear();
	for (size_t i = 0; i < ops.size(); i++) {
		auto c = std::make_unique<Coroutine>();
		getcontext(&c->ctx);
		c->ctx.uc_stack.ss_sp = c->stack.get();
		c->ctx.uc_stack.ss_size = kStack;
		c->ctx.uc_link = &main_->ctx;
		const uintptr_t p = reinterpret_cast<uintptr_t>(this);
		makecontext(&c->ctx, reinterpret_cast<void (*)()>(&Run::trampoline), 2,
		            static_cast<unsigned>(p & 0xffffffffu), static_cast<unsigned>(p >> 32));
		cos_.push_back(std::move(c));
	}
	Run *outer = t_run;
	t_run = this;
	current_ = -1;
	decide("start");
	while (current_ >= 0) {
		Coroutine &c = *cos_[current_];
		start_switch(&main_->fake_stack, c.stack.get(), kStack);
		swapcontext(&main_->ctx, &c.ctx);
		finish_switch(main_->fake_stack, nullptr, nullptr);
	}
	t_run = outer;
	if (!stuck_.empty()) {
		for (auto &c : cos_)
			if (c->state != State::Done)
				graveyard().push_back(std::move(c));
		cos_.clear();
		return;
	}
	if (!owners_.empty())
		stuck_ = "a lock is still held at the end";
}

std::string Run::describe() const {
	std::ostringstream os;
	for (size_t i = 0; i < trace_.size(); i++) {
		const Decision &d = trace_[i];
		os << "  " << i << ": op " << d.running << " at " << d.where << " -> " << d.chosen
		   << (d.running >= 0 && d.chosen != d.running ? "  (switch)" : "")
		   << (d.by_default ? "" : "  (chosen)") << "\n";
	}
	return os.str();
}

std::string Run::key() const {
	std::string k;
	for (size_t i = 0; i < trace_.size(); i++) {
		if (trace_[i].by_default)
			continue;
		if (!k.empty())
			k += ',';
		k += std::to_string(i) + ':' + std::to_string(trace_[i].chosen);
	}
	return k;
}

void Run::write_trace(int fd) const {
	char line[256];
	for (size_t i = 0; i < trace_.size(); i++) {
		const Decision &d = trace_[i];
		const int n = std::snprintf(
		        line, sizeof(line), "  %zu: op %d at %s -> %d%s%s\n", i, d.running, d.where,
		        d.chosen, d.running >= 0 && d.chosen != d.running ? "  (switch)" : "",
		        d.by_default ? "" : "  (chosen)");
		if (n > 0 && ::write(fd, line, std::min<size_t>(n, sizeof(line) - 1)) < 0)
			return;
	}
}

void Run::write_key(int fd) const {
	char item[32];
	bool first = true;
	for (size_t i = 0; i < trace_.size(); i++) {
		if (trace_[i].by_default)
			continue;
		const int n = std::snprintf(item, sizeof(item), "%s%zu:%d", first ? "" : ",", i,
		                            trace_[i].chosen);
		first = false;
		if (n > 0 && ::write(fd, item, std::min<size_t>(n, sizeof(item) - 1)) < 0)
			return;
	}
}

} // namespace fake::sched
