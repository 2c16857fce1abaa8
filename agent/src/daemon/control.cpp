// SPDX-License-Identifier: GPL-2.0
#include "control.hpp"

#include "configured_file.hpp"

#include <cstring>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

namespace tlsup {

namespace {

Result<sockaddr_un> unix_address(const std::string &path) {
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof(addr.sun_path))
		return make_error(EINVAL, "control socket path '%s' is empty or too long",
		                  path.c_str());
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	return addr;
}

} // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::open(const std::string &path, EventLoop &loop,
                                                           Handler handler, const Log &log) {
	auto srv = std::unique_ptr<ControlServer>(new ControlServer(loop, std::move(handler), log));
	sockaddr_un addr = TRY(unix_address(path));
	srv->listen_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (!srv->listen_.valid())
		return make_error(errno, "control socket: %s", strerror(errno));
	// Whoever may write the directory may put another socket, or a link,
	// at the name: only a directory no one but root may write will do.
	auto slash = path.rfind('/');
	std::string dir = slash == 0 ? "/" : path.substr(0, slash);
	auto where = open_configured_directory(dir);
	if (!where)
		return make_error(where.error().code, "control socket %s: %s", path.c_str(),
		                  where.error().reason.c_str());
	if (!where->own.empty()) {
		std::string why;
		for (const auto &w : where->own)
			why += (why.empty() ? "" : "; ") + w;
		return make_error(EACCES,
		                  "control socket %s: directory %s: %s; choose a directory only "
		                  "root may write ([agent] control_socket)",
		                  path.c_str(), dir.c_str(), why.c_str());
	}
	for (const auto &w : where->ancestors)
		LOG_WARN(log, "control socket %s: %s", path.c_str(), w.c_str());
	// A stale socket from an earlier run goes; anything else at the path is
	// a configuration error, never something to delete.
	struct stat st;
	if (::lstat(path.c_str(), &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return make_error(EEXIST, "control socket %s: exists and is not a socket",
			                  path.c_str());
		::unlink(path.c_str());
	}
	// Only root may talk to the agent. The mode is set on the socket before
	// bind, which makes the file with it (less the umask): nothing is done
	// to the path by name afterwards, and the process umask, which every
	// thread shares, stays as it is.
	if (::fchmod(srv->listen_.get(), 0600) < 0)
		return make_error(errno, "control socket %s: fchmod: %s", path.c_str(),
		                  strerror(errno));
	if (bind(srv->listen_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
		return make_error(errno, "control socket %s: bind: %s", path.c_str(),
		                  strerror(errno));
	if (listen(srv->listen_.get(), 16) < 0)
		return make_error(errno, "control socket %s: listen: %s", path.c_str(),
		                  strerror(errno));
	srv->path_ = path;
	ControlServer *self = srv.get();
	TRY(loop.watch(srv->listen_.get(), EPOLLIN, [self](uint32_t) { self->on_accept(); }));
	return srv;
}

ControlServer::~ControlServer() {
	for (auto &[fd, c] : clients_) {
		loop_.unwatch(fd);
		if (c.timer)
			loop_.cancel_timer(c.timer);
	}
	if (listen_.valid()) {
		loop_.unwatch(listen_.get());
		::unlink(path_.c_str());
	}
}

void ControlServer::on_accept() {
	for (;;) {
		int fd = accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		Client c;
		c.fd.reset(fd);
		c.timer = loop_.add_timer(Clock::now() + std::chrono::seconds(2), [this, fd] {
			clients_[fd].timer = 0;
			drop(fd);
		});
		clients_.emplace(fd, std::move(c));
		if (!loop_.watch(fd, EPOLLIN, [this, fd](uint32_t) { on_client(fd); }))
			drop(fd);
	}
}

void ControlServer::on_client(int fd) {
	auto it = clients_.find(fd);
	if (it == clients_.end())
		return;
	Client &c = it->second;
	char buf[256];
	ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return drop(fd);
	c.in.append(buf, static_cast<size_t>(n));
	size_t nl = c.in.find('\n');
	if (nl == std::string::npos) {
		if (c.in.size() > 128)
			drop(fd);
		return;
	}
	std::string command = c.in.substr(0, nl);
	LOG_DEBUG(log_, "control: '%s'", command.c_str());
	// Whatever a reply quotes (a reload's error names the key that failed)
	// leaves a key URL's secrets behind, as the log does.
	std::string reply = redact_secrets(handler_(command));
	// Replies are a few kilobytes at most (status with every histogram
	// bucket: under 6 KB): they fit the socket buffer.
	(void)!::send(fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
	drop(fd);
}

void ControlServer::drop(int fd) {
	auto it = clients_.find(fd);
	if (it == clients_.end())
		return;
	loop_.unwatch(fd);
	if (it->second.timer)
		loop_.cancel_timer(it->second.timer);
	clients_.erase(it);
}

Result<std::string> control_request(const std::string &path, const std::string &command,
                                    int timeout_ms) {
	sockaddr_un addr = TRY(unix_address(path));
	UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd.valid())
		return make_error(errno, "socket: %s", strerror(errno));
	if (connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0)
		return make_error(errno, "cannot reach tlsupd at %s: %s", path.c_str(),
		                  strerror(errno));
	std::string line = command + "\n";
	if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) < 0)
		return make_error(errno, "send: %s", strerror(errno));
	std::string out;
	char buf[4096];
	for (;;) {
		pollfd p{fd.get(), POLLIN, 0};
		int r = ::poll(&p, 1, timeout_ms);
		if (r == 0)
			return make_error(ETIMEDOUT, "tlsupd did not answer within %d ms",
			                  timeout_ms);
		if (r < 0 && errno != EINTR)
			return make_error(errno, "poll: %s", strerror(errno));
		ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return make_error(errno, "recv: %s", strerror(errno));
		if (n == 0)
			return out;
		out.append(buf, static_cast<size_t>(n));
	}
}

} // namespace tlsup
