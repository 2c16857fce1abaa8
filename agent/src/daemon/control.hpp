// SPDX-License-Identifier: GPL-2.0
//
// The control socket: a unix stream socket (mode 0600) that answers one
// command per connection. "status" returns "key value" lines (see
// StatsSnapshot::render), "reload" does what SIGHUP does.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "event_loop.hpp"
#include "log.hpp"
#include "result.hpp"
#include "status_report.hpp"
#include "unique_fd.hpp"

namespace tlsup {

class ControlServer {
public:
	// Answers COMMAND (without newline); returns the reply text.
	using Handler = std::function<std::string(const std::string &command)>;

	static Result<std::unique_ptr<ControlServer>> open(const std::string &path, EventLoop &loop,
	                                                   Handler handler, const Log &log);
	~ControlServer();

private:
	ControlServer(EventLoop &loop, Handler handler, const Log &log)
	    : loop_(loop), handler_(std::move(handler)), log_(log) {}
	void on_accept();
	void on_client(int fd);
	void drop(int fd);

	struct Client {
		UniqueFd fd;
		std::string in;
		EventLoop::TimerId timer = 0;
	};
	EventLoop &loop_;
	Handler handler_;
	const Log &log_;
	std::string path_;
	UniqueFd listen_;
	std::map<int, Client> clients_;
};

// Client side, used by tlsupctl: sends COMMAND and returns the reply.
Result<std::string> control_request(const std::string &path, const std::string &command,
                                    int timeout_ms = 5000);

} // namespace tlsup
