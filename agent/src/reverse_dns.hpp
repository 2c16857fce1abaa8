// SPDX-License-Identifier: GPL-2.0
//
// Reverse DNS off the workers: getnameinfo() can block for seconds, so it
// runs on helper threads; the worker bounds the wait with its own timer and
// ignores answers that come too late.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

#include "result.hpp"

namespace tlsup {

class ReverseResolver {
public:
	using Names = Result<std::vector<std::string>>;
	using Lookup = std::function<Names(const sockaddr_storage &)>;
	// Runs on a resolver thread; post to your own loop from it.
	using Reply = std::function<void(Names)>;

	// getnameinfo(NI_NAMEREQD).
	static Names system_lookup(const sockaddr_storage &addr);

	explicit ReverseResolver(unsigned threads = 2, Lookup lookup = system_lookup);
	~ReverseResolver();
	ReverseResolver(const ReverseResolver &) = delete;
	ReverseResolver &operator=(const ReverseResolver &) = delete;

	void resolve(const sockaddr_storage &addr, Reply reply);

private:
	void run();

	Lookup lookup_;
	std::mutex mu_;
	std::condition_variable cv_;
	std::deque<std::pair<sockaddr_storage, Reply>> queue_;
	bool stopping_ = false;
	std::vector<std::thread> threads_;
};

} // namespace tlsup
