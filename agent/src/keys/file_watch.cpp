// SPDX-License-Identifier: GPL-2.0
#include "file_watch.hpp"

#include <cerrno>
#include <cstring>
#include <sys/inotify.h>
#include <unistd.h>

namespace tlsup {

Result<std::unique_ptr<FileWatch>> FileWatch::create() {
	auto w = std::unique_ptr<FileWatch>(new FileWatch());
	w->fd_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
	if (!w->fd_.valid())
		return make_error(errno, "inotify_init1: %s", strerror(errno));
	return w;
}

Result<void> FileWatch::watch(const std::vector<std::string> &files) {
	for (const auto &[wd, dir] : dirs_)
		inotify_rm_watch(fd_.get(), wd);
	dirs_.clear();
	names_.clear();
	for (const auto &f : files) {
		auto slash = f.rfind('/');
		if (f.empty() || f.front() != '/' || slash == std::string::npos ||
		    slash + 1 == f.size())
			continue;
		std::string dir = slash == 0 ? "/" : f.substr(0, slash);
		names_[dir].insert(f.substr(slash + 1));
	}
	for (const auto &[dir, names] : names_) {
		int wd = inotify_add_watch(fd_.get(), dir.c_str(),
		                           IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
		                                   IN_ATTRIB);
		if (wd < 0)
			return make_error(errno, "cannot watch %s: %s", dir.c_str(),
			                  strerror(errno));
		dirs_[wd] = dir;
	}
	return {};
}

bool FileWatch::changed() {
	bool hit = false;
	alignas(inotify_event) char buf[8192];
	for (;;) {
		ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
		if (n <= 0)
			return hit; // EAGAIN: drained
		for (ssize_t off = 0; off < n;) {
			auto *e = reinterpret_cast<inotify_event *>(buf + off);
			off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
			if (e->mask & IN_Q_OVERFLOW) {
				hit = true; // events were lost: assume ours was one
				continue;
			}
			auto d = dirs_.find(e->wd);
			if (d == dirs_.end() || e->len == 0)
				continue;
			const auto &names = names_[d->second];
			if (names.count(e->name))
				hit = true;
		}
	}
}

} // namespace tlsup
