// SPDX-License-Identifier: GPL-2.0
#include "local_user.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <keyutils.h>
#include <linux/close_range.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tlsup::test {

namespace {

bool write_all(int fd, const void *p, size_t n) {
	const char *c = static_cast<const char *>(p);
	while (n > 0) {
		ssize_t w = ::write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		c += w;
		n -= static_cast<size_t>(w);
	}
	return true;
}

bool read_all(int fd, void *p, size_t n) {
	char *c = static_cast<char *>(p);
	while (n > 0) {
		ssize_t r = ::read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		c += r;
		n -= static_cast<size_t>(r);
	}
	return true;
}

} // namespace

LocalUser::LocalUser(uid_t uid, Act act) {
	int results[2], release[2];
	if (pipe2(results, O_CLOEXEC) < 0 || pipe2(release, O_CLOEXEC) < 0) {
		out_ = {{}, errno, "pipe"};
		return;
	}
	pid_ = fork();
	if (pid_ < 0) {
		out_ = {{}, errno, "fork"};
		return;
	}
	if (pid_ == 0) {
		// Nothing else of the parent's: another child's release pipe held
		// open here would keep that child waiting forever.
		int keep_lo = std::min(results[1], release[0]),
		    keep_hi = std::max(results[1], release[0]);
		close_range(3, static_cast<unsigned>(keep_lo) - 1, 0);
		close_range(static_cast<unsigned>(keep_lo) + 1, static_cast<unsigned>(keep_hi) - 1,
		            0);
		close_range(static_cast<unsigned>(keep_hi) + 1, ~0u, 0);
		Outcome o;
		gid_t gid = static_cast<gid_t>(uid);
		if (uid != 0 && (setgroups(0, nullptr) < 0 || setresgid(gid, gid, gid) < 0 ||
		                 setresuid(uid, uid, uid) < 0))
			o = {{}, errno, "setuid"};
		// The parent's session keyring is the test's: possessing it, the
		// child could write there whatever its uid.
		else if (keyctl_join_session_keyring(nullptr) < 0)
			o = {{}, errno, "join a session keyring"};
		else
			o = act();
		int64_t n = static_cast<int64_t>(o.values.size());
		int32_t len = static_cast<int32_t>(o.step.size());
		int32_t tlen = static_cast<int32_t>(o.text.size());
		bool sent =
		        write_all(results[1], &o.error, sizeof(o.error)) &&
		        write_all(results[1], &len, sizeof(len)) &&
		        write_all(results[1], o.step.data(), o.step.size()) &&
		        write_all(results[1], &tlen, sizeof(tlen)) &&
		        write_all(results[1], o.text.data(), o.text.size()) &&
		        write_all(results[1], &n, sizeof(n)) &&
		        write_all(results[1], o.values.data(), o.values.size() * sizeof(int64_t));
		::close(results[1]);
		char c;
		while (sent && ::read(release[0], &c, 1) > 0) {
		}
		_exit(0);
	}
	::close(results[1]);
	::close(release[0]);
	release_ = release[1];
	int32_t len = 0;
	int64_t n = 0;
	if (!read_all(results[0], &out_.error, sizeof(out_.error)) ||
	    !read_all(results[0], &len, sizeof(len)) || len < 0 || len > 4096) {
		out_ = {{}, EPIPE, "the child died"};
	} else {
		out_.step.resize(static_cast<size_t>(len));
		int32_t tlen = 0;
		if (!read_all(results[0], out_.step.data(), out_.step.size()) ||
		    !read_all(results[0], &tlen, sizeof(tlen)) || tlen < 0 || tlen > 65536 ||
		    (out_.text.resize(static_cast<size_t>(tlen)),
		     !read_all(results[0], out_.text.data(), out_.text.size())) ||
		    !read_all(results[0], &n, sizeof(n)) || n < 0 || n > 4096) {
			out_ = {{}, EPIPE, "the child died"};
		} else {
			out_.values.resize(static_cast<size_t>(n));
			if (!read_all(results[0], out_.values.data(),
			              out_.values.size() * sizeof(int64_t)))
				out_ = {{}, EPIPE, "the child died"};
		}
	}
	::close(results[0]);
}

LocalUser::~LocalUser() {
	if (release_ >= 0)
		::close(release_);
	if (pid_ > 0) {
		int status;
		while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
		}
	}
}

std::string LocalUser::why() const {
	if (ok())
		return "";
	return out_.step + ": " + std::strerror(out_.error);
}

bool LocalUser::available(std::string *why_not) {
	if (geteuid() != 0) {
		*why_not = "attacker's tests need root (to make another user's keys and files)";
		return false;
	}
	if (keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0) < 0) {
		*why_not = std::string("no kernel keyrings: ") + std::strerror(errno);
		return false;
	}
	return true;
}

} // namespace tlsup::test
