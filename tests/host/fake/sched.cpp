// SPDX-License-Identifier: GPL-2.0
#include "sched.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace fake::sched {

namespace {
thread_local Run *t_run = nullptr;
thread_local int t_id = -1;
} // namespace

Run *current() {
	return t_run;
}

void point(const char *where) {
	if (t_run)
		t_run->point(where);
}

std::vector<int> Run::enabled_locked() const {
	std::vector<int> out;
	for (int i = 0; i < static_cast<int>(threads_.size()); i++) {
		const Thread &t = threads_[i];
		if (t.state == State::Runnable)
			out.push_back(i);
		else if (t.state == State::Blocked) {
			bool free = true;
			for (auto &o : owners_)
				if (o.first == t.waiting_for)
					free = false;
			if (free)
				out.push_back(i);
		}
	}
	return out;
}

void Run::switch_from(int self, const char *where, std::unique_lock<std::mutex> &g) {
	std::vector<int> en = enabled_locked();
	if (en.empty()) {
		bool all_done = std::all_of(threads_.begin(), threads_.end(),
		                            [](const Thread &t) { return t.state == State::Done; });
		if (all_done) {
			current_ = -1;
			cv_.notify_all();
			return;
		}
		std::fprintf(stderr, "explorer: deadlock at %s\n%s", where, describe().c_str());
		std::abort();
	}
	int next;
	const size_t step = trace_.size();
	if (step < forced_.size() && std::find(en.begin(), en.end(), forced_[step]) != en.end())
		next = forced_[step];
	else if (self >= 0 && std::find(en.begin(), en.end(), self) != en.end())
		next = self;
	else
		next = en.front();
	trace_.push_back({self, next, en, where});
	current_ = next;
	cv_.notify_all();
	if (self < 0 || threads_[self].state == State::Done)
		return;
	cv_.wait(g, [&] { return current_ == self; });
	if (threads_[self].state == State::Blocked)
		threads_[self].state = State::Runnable; // chosen: its lock is free
}

void Run::point(const char *where) {
	std::unique_lock g(mu_);
	switch_from(t_id, where, g);
}

void Run::lock(void *l) {
	std::unique_lock g(mu_);
	for (;;) {
		bool held = false;
		for (auto &o : owners_)
			if (o.first == l)
				held = true;
		if (!held) {
			owners_.push_back({l, t_id});
			return;
		}
		threads_[t_id].state = State::Blocked;
		threads_[t_id].waiting_for = l;
		switch_from(t_id, "lock (contended)", g);
	}
}

void Run::unlock(void *l) {
	std::unique_lock g(mu_);
	for (auto it = owners_.begin(); it != owners_.end(); ++it)
		if (it->first == l && it->second == t_id) {
			owners_.erase(it);
			return;
		}
	std::fprintf(stderr, "explorer: unlock of a lock this thread does not hold\n");
	std::abort();
}

bool Run::holds(void *l) {
	std::unique_lock g(mu_);
	for (auto &o : owners_)
		if (o.first == l && o.second == t_id)
			return true;
	return false;
}

void Run::execute(const std::vector<std::function<void()>> &ops) {
	threads_.assign(ops.size(), Thread{});
	std::vector<std::thread> ts;
	for (size_t i = 0; i < ops.size(); i++) {
		ts.emplace_back([this, i, &ops] {
			{
				std::unique_lock g(mu_);
				cv_.wait(g, [&] { return current_ == static_cast<int>(i); });
			}
			t_run = this;
			t_id = static_cast<int>(i);
			ops[i]();
			std::unique_lock g(mu_);
			threads_[i].state = State::Done;
			switch_from(static_cast<int>(i), "exit", g);
			t_run = nullptr;
			t_id = -1;
		});
	}
	{
		std::unique_lock g(mu_);
		switch_from(-1, "start", g);
	}
	for (auto &t : ts)
		t.join();
	if (!owners_.empty()) {
		std::fprintf(stderr, "explorer: a lock is still held at the end\n%s",
		             describe().c_str());
		std::abort();
	}
}

std::string Run::describe() const {
	std::ostringstream os;
	for (size_t i = 0; i < trace_.size(); i++) {
		const Decision &d = trace_[i];
		os << "  " << i << ": thread " << d.running << " at " << d.where << " -> "
		   << d.chosen << (d.running >= 0 && d.chosen != d.running ? "  (switch)" : "")
		   << "\n";
	}
	return os.str();
}

} // namespace fake::sched
