// SPDX-License-Identifier: GPL-2.0
#include "reverse_dns.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <utility>

#include "thread_priority.hpp"

namespace tlsup {

namespace {

// ADDR as an address of its own family, IPv4-mapped IPv6 as IPv4: 4 or 16
// bytes.
std::vector<unsigned char> address_bytes(const sockaddr *addr) {
	if (addr->sa_family == AF_INET) {
		const auto *in = reinterpret_cast<const sockaddr_in *>(addr);
		const auto *b = reinterpret_cast<const unsigned char *>(&in->sin_addr);
		return {b, b + 4};
	}
	if (addr->sa_family == AF_INET6) {
		const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(addr);
		const unsigned char *b = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return {b + 12, b + 16};
		return {b, b + 16};
	}
	return {};
}

std::string address_text(const std::vector<unsigned char> &bytes) {
	char text[INET6_ADDRSTRLEN] = "?";
	inet_ntop(bytes.size() == 4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof(text));
	return text;
}

} // namespace

Result<void> ReverseResolver::forward_confirms(const std::string &name,
                                               const sockaddr_storage &addr) {
	auto want = address_bytes(reinterpret_cast<const sockaddr *>(&addr));
	addrinfo hints{};
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	addrinfo *res = nullptr;
	int ret = getaddrinfo(name.c_str(), nullptr, &hints, &res);
	if (ret != 0)
		return make_error(EACCES,
		                  "PTR name '%s' of %s does not resolve back to it (forward "
		                  "lookup: %s)",
		                  name.c_str(), address_text(want).c_str(), gai_strerror(ret));
	std::unique_ptr<addrinfo, void (*)(addrinfo *)> guard(res, freeaddrinfo);
	std::string seen;
	for (addrinfo *ai = res; ai; ai = ai->ai_next) {
		auto got = address_bytes(ai->ai_addr);
		if (got == want)
			return {};
		if (!got.empty() && seen.size() < 256)
			seen += (seen.empty() ? "" : ", ") + address_text(got);
	}
	return make_error(
	        EACCES, "PTR name '%s' of %s does not resolve back to it (it resolves to %s)",
	        name.c_str(), address_text(want).c_str(), seen.empty() ? "nothing" : seen.c_str());
}

ReverseResolver::Names ReverseResolver::system_lookup(const sockaddr_storage &addr) {
	socklen_t len = addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
	char host[NI_MAXHOST];
	int ret = getnameinfo(reinterpret_cast<const sockaddr *>(&addr), len, host, sizeof(host),
	                      nullptr, 0, NI_NAMEREQD);
	if (ret != 0)
		return make_error(EACCES, "getnameinfo: %s", gai_strerror(ret));
	// Whoever answers the PTR query picks the name; the name's own owner
	// must agree.
	TRY(forward_confirms(host, addr));
	return std::vector<std::string>{host};
}

ReverseResolver::ReverseResolver(unsigned threads, Lookup lookup)
    : lookup_(std::move(lookup)), bound_(kQueuePerThread * std::max(threads, 1u)) {
	for (unsigned i = 0; i < std::max(threads, 1u); i++)
		threads_.emplace_back([this] { run(); });
}

ReverseResolver::~ReverseResolver() {
	{
		std::lock_guard lock(mu_);
		stopping_ = true;
	}
	cv_.notify_all();
	for (auto &t : threads_)
		t.join();
}

ReverseResolver::Ticket &ReverseResolver::Ticket::operator=(Ticket &&o) noexcept {
	if (this != &o) {
		cancel();
		resolver_ = std::exchange(o.resolver_, nullptr);
		id_ = std::exchange(o.id_, 0);
	}
	return *this;
}

void ReverseResolver::Ticket::cancel() {
	if (resolver_)
		resolver_->cancel(id_);
	resolver_ = nullptr;
}

Result<ReverseResolver::Ticket> ReverseResolver::resolve(const sockaddr_storage &addr,
                                                         Reply reply) {
	uint64_t id;
	{
		std::lock_guard lock(mu_);
		if (queue_.size() >= bound_)
			return make_error(EAGAIN, "%zu reverse DNS lookups already wait",
			                  queue_.size());
		id = next_id_++;
		queue_.push_back(Entry{id, addr, std::move(reply)});
	}
	cv_.notify_one();
	return Ticket(this, id);
}

void ReverseResolver::cancel(uint64_t id) {
	std::lock_guard lock(mu_);
	auto it = std::find_if(queue_.begin(), queue_.end(),
	                       [id](const Entry &e) { return e.id == id; });
	if (it != queue_.end()) {
		queue_.erase(it);
		dropped_++;
	}
}

size_t ReverseResolver::queued() const {
	std::lock_guard lock(mu_);
	return queue_.size();
}

uint64_t ReverseResolver::dropped() const {
	std::lock_guard lock(mu_);
	return dropped_;
}

void ReverseResolver::run() {
	// Only the acceptor keeps the real-time policy the unit gives (a
	// failure here is the workers' too, and they log it).
	(void)leave_realtime();
	for (;;) {
		Entry job;
		{
			std::unique_lock lock(mu_);
			cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
			if (stopping_)
				return;
			job = std::move(queue_.front());
			queue_.pop_front();
		}
		job.reply(lookup_(job.addr));
	}
}

} // namespace tlsup
