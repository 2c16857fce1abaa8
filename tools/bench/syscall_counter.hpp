// SPDX-License-Identifier: GPL-2.0
//
// System calls made by given threads, counted by the kernel's
// raw_syscalls:sys_enter tracepoint through perf_event_open: no ptrace, no
// seccomp, nothing in the counted threads' path. One counter per thread for
// the total, and per thread one for each system call of a list (a tracepoint
// filter on the call's number). Needs tracefs (for the tracepoint's id) and
// the right to open tracepoint events (root, or perf_event_paranoid <= -1).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace bench {

class SyscallCounter {
public:
	// Why counting is impossible here, or nullopt when it is possible.
	static std::optional<std::string> unavailable();

	// Counts for TIDS (threads of this process), from now on.
	static SyscallCounter open(const std::vector<pid_t> &tids);
	SyscallCounter() = default;
	SyscallCounter(SyscallCounter &&) noexcept;
	SyscallCounter &operator=(SyscallCounter &&) noexcept;
	~SyscallCounter();

	bool ok() const { return !fds_.empty(); }
	const std::string &error() const { return error_; }

	struct Sample {
		std::vector<uint64_t> per_thread; // total, by thread (TIDS order)
		std::vector<std::map<std::string, uint64_t>> thread_by_name;
		std::map<std::string, uint64_t> by_name; // summed over threads
		uint64_t total = 0;
		Sample operator-(const Sample &o) const;
	};
	Sample read() const;

	// The system calls counted by name (the rest is "other").
	static const std::vector<std::pair<const char *, long>> &names();

private:
	std::vector<std::vector<int>> fds_; // [thread][0 = total, 1.. = names()]
	std::string error_;
};

} // namespace bench
