// SPDX-License-Identifier: GPL-2.0
#include "configured_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <unistd.h>

namespace tlsup {

namespace {

constexpr int kMaxLinks = 40; // as the kernel's MAXSYMLINKS

const char *file_type(mode_t mode) {
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	default:
		return "not a file";
	}
}

std::string mode_text(mode_t mode) {
	char m[8];
	std::snprintf(m, sizeof(m), "%04o", static_cast<unsigned>(mode & 07777));
	return m;
}

std::string join(const std::string &dir, const std::string &name) {
	return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string parent(const std::string &dir) {
	auto slash = dir.rfind('/');
	return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

void push_components(std::deque<std::string> &parts, const std::string &path) {
	std::deque<std::string> mine;
	size_t i = 0;
	while (i < path.size()) {
		size_t j = path.find('/', i);
		if (j == std::string::npos)
			j = path.size();
		std::string c = path.substr(i, j - i);
		if (!c.empty() && c != ".")
			mine.push_back(std::move(c));
		i = j + 1;
	}
	parts.insert(parts.begin(), mine.begin(), mine.end());
}

// A directory on the way: who besides root and the agent may change what
// it holds. WHO gets the first such user, for a refused link's message.
void check_directory(const struct stat &st, const std::string &dir, uid_t euid,
                     std::vector<std::string> &exposure, std::string &who) {
	bool sticky = st.st_mode & S_ISVTX;
	auto add = [&](const std::string &words, const std::string &by) {
		exposure.push_back(words);
		if (who.empty())
			who = by;
	};
	if (st.st_uid != 0 && st.st_uid != euid)
		add("directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
		            ", who may replace what it holds (chown root)",
		    "uid " + std::to_string(st.st_uid));
	if ((st.st_mode & S_IWOTH) && !sticky)
		add("any user may replace what directory " + dir + " holds (mode " +
		            mode_text(st.st_mode) + "; chmod o-w)",
		    "any user");
	if ((st.st_mode & S_IWGRP) && !sticky)
		add("group " + std::to_string(st.st_gid) + " may replace what directory " + dir +
		            " holds (mode " + mode_text(st.st_mode) + "; chmod g-w)",
		    "group " + std::to_string(st.st_gid));
}

} // namespace

namespace {

struct Walked {
	UniqueFd fd;    // the file, open for reading; or the directory (O_PATH)
	struct stat st; // of it
	std::vector<std::string> exposure;
	size_t own = 0; // exposure[own..]: the last directory's own
};

// The walk both open_configured_file and open_configured_directory make.
Result<Walked> walk(const std::string &path, bool want_dir) {
	if (path.empty() || path.front() != '/')
		return make_error(EINVAL, "%s: not an absolute path", path.c_str());
	uid_t euid = ::geteuid();
	Walked out;
	std::string who;     // the first user who may change the way so far
	std::string exposed; // the directory that lets them
	auto open_dir = [](int at, const char *name) {
		return UniqueFd(::openat(at, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	};
	// Takes errno first: building WHAT may allocate.
	auto fail = [&](int err, const std::string &what) {
		return make_error(err == ENOENT ? ENOKEY : err, "cannot open %s: %s (%s)",
		                  path.c_str(), strerror(err), what.c_str());
	};
	auto visit_dir = [&](const UniqueFd &fd, const std::string &name) -> Result<void> {
		struct stat st;
		if (::fstat(fd.get(), &st) < 0)
			return fail(errno, name);
		size_t before = out.exposure.size();
		out.own = before;
		check_directory(st, name, euid, out.exposure, who);
		if (out.exposure.size() > before && exposed.empty())
			exposed = name;
		return {};
	};

	UniqueFd dir = open_dir(AT_FDCWD, "/");
	std::string dir_name = "/";
	if (!dir.valid())
		return fail(errno, "/");
	TRY(visit_dir(dir, dir_name));
	// Done with a directory: DIR is it.
	auto directory = [&]() -> Result<Walked> {
		if (::fstat(dir.get(), &out.st) < 0)
			return fail(errno, dir_name);
		out.fd = std::move(dir);
		return std::move(out);
	};
	std::deque<std::string> parts;
	push_components(parts, path);
	int links = 0;
	while (!parts.empty()) {
		std::string name = std::move(parts.front());
		parts.pop_front();
		if (name == "..") {
			UniqueFd up = open_dir(dir.get(), "..");
			if (!up.valid())
				return fail(errno, join(dir_name, ".."));
			dir = std::move(up);
			dir_name = parent(dir_name);
			TRY(visit_dir(dir, dir_name));
			continue;
		}
		std::string node_name = join(dir_name, name);
		// O_PATH opens neither a FIFO nor a device: nothing here blocks or
		// has a side effect.
		UniqueFd node(::openat(dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
		struct stat st;
		if (!node.valid() || ::fstat(node.get(), &st) < 0)
			return fail(errno, node_name);
		if (S_ISLNK(st.st_mode)) {
			if (++links > kMaxLinks)
				return make_error(ELOOP, "%s: more than %d symbolic links",
				                  path.c_str(), kMaxLinks);
			if (!exposed.empty())
				return make_error(
				        EINVAL,
				        "%s: a symbolic link in %s, which %s may change: "
				        "refused (name the file itself, or make the directory "
				        "root's)",
				        node_name.c_str(), exposed.c_str(), who.c_str());
			if (st.st_uid != 0 && st.st_uid != euid)
				return make_error(
				        EINVAL,
				        "%s: a symbolic link uid %u made: refused (name the file "
				        "itself)",
				        node_name.c_str(), static_cast<unsigned>(st.st_uid));
			char target[4096];
			ssize_t n = ::readlinkat(node.get(), "", target, sizeof(target));
			if (n < 0 || static_cast<size_t>(n) >= sizeof(target))
				return make_error(n < 0 ? errno : ENAMETOOLONG,
				                  "%s: cannot read the link", node_name.c_str());
			std::string to(target, static_cast<size_t>(n));
			if (!to.empty() && to.front() == '/') {
				dir = open_dir(AT_FDCWD, "/");
				dir_name = "/";
				if (!dir.valid())
					return fail(errno, "/");
			}
			push_components(parts, to);
			continue;
		}
		if (!parts.empty() || want_dir) {
			if (!S_ISDIR(st.st_mode))
				return make_error(ENOTDIR, "%s: %s is not a directory",
				                  path.c_str(), node_name.c_str());
			dir = std::move(node);
			dir_name = node_name;
			TRY(visit_dir(dir, dir_name));
			continue;
		}
		if (!S_ISREG(st.st_mode))
			return make_error(EINVAL, "%s: not a regular file (%s)", path.c_str(),
			                  file_type(st.st_mode));
		// Swapped for a link or a FIFO since: O_NOFOLLOW fails, O_NONBLOCK
		// returns, and the inode check below says so.
		out.fd.reset(::openat(dir.get(), name.c_str(),
		                      O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC));
		if (!out.fd.valid())
			return fail(errno, node_name);
		if (::fstat(out.fd.get(), &out.st) < 0)
			return fail(errno, node_name);
		if (!S_ISREG(out.st.st_mode))
			return make_error(EINVAL, "%s: not a regular file (%s)", path.c_str(),
			                  file_type(out.st.st_mode));
		if (out.st.st_dev != st.st_dev || out.st.st_ino != st.st_ino)
			return make_error(EAGAIN, "%s: replaced while being opened", path.c_str());
		return out;
	}
	if (want_dir)
		return directory();
	return make_error(EINVAL, "%s: not a regular file (a directory)", path.c_str());
}

} // namespace

Result<ConfiguredFile> open_configured_file(const std::string &path) {
	Walked w = TRY(walk(path, false));
	return ConfiguredFile{std::move(w.fd), w.st, std::move(w.exposure)};
}

Result<ConfiguredDirectory> open_configured_directory(const std::string &path) {
	Walked w = TRY(walk(path, true));
	ConfiguredDirectory out{std::move(w.fd), w.st, {}, {}};
	out.ancestors.assign(w.exposure.begin(), w.exposure.begin() + static_cast<long>(w.own));
	// The directory itself, sticky or not: others who may write it may add
	// names to it, the one tlsupd means to make among them.
	uid_t euid = ::geteuid();
	if (out.st.st_uid != 0 && out.st.st_uid != euid)
		out.own.push_back("it belongs to uid " + std::to_string(out.st.st_uid));
	if (out.st.st_mode & S_IWOTH)
		out.own.push_back("any user may add names to it (mode " +
		                  mode_text(out.st.st_mode) + ")");
	else if (out.st.st_mode & S_IWGRP)
		out.own.push_back("group " + std::to_string(out.st.st_gid) +
		                  " may add names to it (mode " + mode_text(out.st.st_mode) + ")");
	return out;
}

std::string file_exposure(const struct stat &st, bool secret, uid_t euid) {
	char mode[8];
	std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
	std::vector<std::string> why;
	if (secret && (st.st_mode & (S_IROTH | S_IWOTH)))
		why.push_back(std::string("any user may ") +
		              ((st.st_mode & S_IROTH) ? "read" : "write") +
		              " this private key (mode " + mode + "; chmod o-rwx)");
	else if (st.st_mode & S_IWOTH)
		why.push_back(std::string("any user may replace it (mode ") + mode +
		              "; chmod o-w)");
	if (st.st_mode & S_IWGRP)
		why.push_back(std::string("its group may replace it (mode ") + mode +
		              "; chmod g-w)");
	if (st.st_uid != 0 && st.st_uid != euid)
		why.push_back("it belongs to uid " + std::to_string(st.st_uid) +
		              ", who may replace it (chown root)");
	std::string out;
	for (const auto &w : why)
		out += (out.empty() ? "" : "; ") + w;
	return out;
}

Result<std::string> read_configured_file(const std::string &path, size_t max) {
	ConfiguredFile f = TRY(open_configured_file(path));
	SecretBytes bytes = TRY(read_secret_fd(f.fd.get(), path, max));
	return std::string(reinterpret_cast<const char *>(bytes.data()), bytes.size());
}

Result<SecretBytes> read_secret_file(const std::string &path, size_t max) {
	ConfiguredFile f = TRY(open_configured_file(path));
	return read_secret_fd(f.fd.get(), path, max);
}

} // namespace tlsup
