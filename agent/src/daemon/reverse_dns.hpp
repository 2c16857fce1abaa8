// SPDX-License-Identifier: GPL-2.0
//
// Reverse DNS off the workers: getnameinfo() can block for seconds, so it
// runs on a pool of helper threads. The queue is bounded (a flood of
// requests cannot pile up lookups), a lookup whose request is gone is
// dropped before it runs, and the worker bounds the wait with its own
// timer and ignores answers that come too late.
#pragma once

#include <condition_variable>
#include <cstdint>
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

	// Lookups waiting for a thread, per thread.
	static constexpr size_t kQueuePerThread = 32;

	// getnameinfo(NI_NAMEREQD), then forward_confirms() on the name: the
	// forward-confirmed reverse DNS name of ADDR, or EACCES with why not.
	static Names system_lookup(const sockaddr_storage &addr);
	// Whether NAME's forward lookup (getaddrinfo: A, AAAA, /etc/hosts)
	// holds ADDR (an IPv4-mapped address is its IPv4 one); EACCES naming
	// what it resolves to otherwise.
	static Result<void> forward_confirms(const std::string &name, const sockaddr_storage &addr);

	explicit ReverseResolver(unsigned threads = 2, Lookup lookup = system_lookup);
	~ReverseResolver();
	ReverseResolver(const ReverseResolver &) = delete;
	ReverseResolver &operator=(const ReverseResolver &) = delete;

	// A queued lookup; dropping it (or cancel()) drops the lookup if it has
	// not started. Must not outlive the resolver.
	class Ticket {
	public:
		Ticket() = default;
		Ticket(Ticket &&o) noexcept { *this = std::move(o); }
		Ticket &operator=(Ticket &&o) noexcept;
		~Ticket() { cancel(); }
		void cancel();

	private:
		friend class ReverseResolver;
		Ticket(ReverseResolver *r, uint64_t id) : resolver_(r), id_(id) {}
		ReverseResolver *resolver_ = nullptr;
		uint64_t id_ = 0;
	};

	// EAGAIN when the queue is full.
	Result<Ticket> resolve(const sockaddr_storage &addr, Reply reply);

	unsigned threads() const { return static_cast<unsigned>(threads_.size()); }
	size_t queued() const;
	uint64_t dropped() const; // cancelled before they ran

private:
	struct Entry {
		uint64_t id;
		sockaddr_storage addr;
		Reply reply;
	};
	void run();
	void cancel(uint64_t id);

	Lookup lookup_;
	size_t bound_;
	mutable std::mutex mu_;
	std::condition_variable cv_;
	std::deque<Entry> queue_;
	uint64_t next_id_ = 1;
	uint64_t dropped_ = 0;
	bool stopping_ = false;
	std::vector<std::thread> threads_;
};

} // namespace tlsup
