// SPDX-License-Identifier: GPL-2.0
#include "reverse_dns.hpp"

#include <algorithm>
#include <netdb.h>
#include <netinet/in.h>
#include <utility>

namespace tlsup {

ReverseResolver::Names ReverseResolver::system_lookup(const sockaddr_storage &addr) {
	socklen_t len = addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
	char host[NI_MAXHOST];
	int ret = getnameinfo(reinterpret_cast<const sockaddr *>(&addr), len, host, sizeof(host),
	                      nullptr, 0, NI_NAMEREQD);
	if (ret != 0)
		return make_error(EACCES, "getnameinfo: %s", gai_strerror(ret));
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
