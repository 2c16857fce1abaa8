// SPDX-License-Identifier: GPL-2.0
#include "syscall_counter.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utility>

namespace bench {

namespace {

std::optional<long> tracepoint_id(std::string *why) {
	for (const char *base : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
		std::ifstream in(std::string(base) + "/events/raw_syscalls/sys_enter/id");
		long id = -1;
		if (in >> id && id >= 0)
			return id;
	}
	*why = "no tracefs with raw_syscalls:sys_enter (mount -t tracefs nodev "
	       "/sys/kernel/tracing)";
	return std::nullopt;
}

int open_counter(pid_t tid, long id, const char *filter) {
	perf_event_attr attr{};
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = static_cast<uint64_t>(id);
	attr.disabled = 0;
	attr.exclude_kernel = 0;
	int fd = static_cast<int>(
	        syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
	if (fd < 0)
		return -1;
	if (filter && ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

uint64_t value(int fd) {
	uint64_t v = 0;
	if (fd < 0 || ::read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

} // namespace

const std::vector<std::pair<const char *, long>> &SyscallCounter::names() {
	static const std::vector<std::pair<const char *, long>> list = {
	        {"read", SYS_read},
	        {"readv", SYS_readv},
	        {"writev", SYS_writev},
	        {"write", SYS_write},
	        {"close", SYS_close},
	        {"poll", SYS_poll},
	        {"sendto", SYS_sendto},
	        {"recvfrom", SYS_recvfrom},
	        {"sendmsg", SYS_sendmsg},
	        {"recvmsg", SYS_recvmsg},
	        {"recvmmsg", SYS_recvmmsg},
	        {"getsockopt", SYS_getsockopt},
	        {"setsockopt", SYS_setsockopt},
	        {"getpeername", SYS_getpeername},
	        {"epoll_wait", SYS_epoll_wait},
	        {"epoll_pwait", SYS_epoll_pwait},
	        {"epoll_ctl", SYS_epoll_ctl},
	        {"keyctl", SYS_keyctl},
	        {"add_key", SYS_add_key},
	        {"clock_gettime", SYS_clock_gettime},
	        {"futex", SYS_futex},
	        {"getrandom", SYS_getrandom},
	        {"mmap", SYS_mmap},
	        {"munmap", SYS_munmap},
	        {"madvise", SYS_madvise},
	        {"brk", SYS_brk},
	        {"fcntl", SYS_fcntl},
	        {"gettid", SYS_gettid},
	        {"getpid", SYS_getpid},
	};
	return list;
}

std::optional<std::string> SyscallCounter::unavailable() {
	std::string why;
	auto id = tracepoint_id(&why);
	if (!id)
		return why;
	int fd = open_counter(0, *id, nullptr);
	if (fd < 0)
		return std::string("perf_event_open(raw_syscalls:sys_enter): ") + strerror(errno);
	close(fd);
	return std::nullopt;
}

SyscallCounter SyscallCounter::open(const std::vector<pid_t> &tids) {
	SyscallCounter c;
	auto id = tracepoint_id(&c.error_);
	if (!id)
		return c;
	for (pid_t tid : tids) {
		std::vector<int> fds;
		int total = open_counter(tid, *id, nullptr);
		if (total < 0) {
			c.error_ = std::string("perf_event_open: ") + strerror(errno);
			for (auto &t : c.fds_)
				for (int fd : t)
					if (fd >= 0)
						close(fd);
			c.fds_.clear();
			return c;
		}
		fds.push_back(total);
		for (const auto &[name, nr] : names()) {
			std::string filter = "id == " + std::to_string(nr);
			fds.push_back(open_counter(tid, *id, filter.c_str())); // -1: not by name
		}
		c.fds_.push_back(std::move(fds));
	}
	return c;
}

SyscallCounter::SyscallCounter(SyscallCounter &&o) noexcept
    : fds_(std::move(o.fds_)), error_(std::move(o.error_)) {}

SyscallCounter &SyscallCounter::operator=(SyscallCounter &&o) noexcept {
	std::swap(fds_, o.fds_);
	std::swap(error_, o.error_);
	return *this;
}

SyscallCounter::~SyscallCounter() {
	for (auto &t : fds_)
		for (int fd : t)
			if (fd >= 0)
				close(fd);
}

SyscallCounter::Sample SyscallCounter::read() const {
	Sample s;
	for (const auto &t : fds_) {
		uint64_t total = value(t[0]);
		s.per_thread.push_back(total);
		s.total += total;
		std::map<std::string, uint64_t> mine;
		for (size_t i = 0; i < names().size(); i++) {
			uint64_t v = value(t[i + 1]);
			s.by_name[names()[i].first] += v;
			mine[names()[i].first] = v;
		}
		s.thread_by_name.push_back(std::move(mine));
	}
	return s;
}

SyscallCounter::Sample SyscallCounter::Sample::operator-(const Sample &o) const {
	Sample d;
	d.total = total - o.total;
	for (size_t i = 0; i < per_thread.size(); i++)
		d.per_thread.push_back(per_thread[i] -
		                       (i < o.per_thread.size() ? o.per_thread[i] : 0));
	for (const auto &[k, v] : by_name) {
		auto it = o.by_name.find(k);
		d.by_name[k] = v - (it == o.by_name.end() ? 0 : it->second);
	}
	for (size_t i = 0; i < thread_by_name.size(); i++) {
		std::map<std::string, uint64_t> m;
		for (const auto &[k, v] : thread_by_name[i]) {
			uint64_t before = 0;
			if (i < o.thread_by_name.size()) {
				auto it = o.thread_by_name[i].find(k);
				if (it != o.thread_by_name[i].end())
					before = it->second;
			}
			m[k] = v - before;
		}
		d.thread_by_name.push_back(std::move(m));
	}
	return d;
}

} // namespace bench
