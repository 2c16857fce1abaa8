// SPDX-License-Identifier: GPL-2.0
#include "reverse_dns.hpp"

#include <netdb.h>
#include <netinet/in.h>

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

ReverseResolver::ReverseResolver(unsigned threads, Lookup lookup) : lookup_(std::move(lookup)) {
	for (unsigned i = 0; i < threads; i++)
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

void ReverseResolver::resolve(const sockaddr_storage &addr, Reply reply) {
	{
		std::lock_guard lock(mu_);
		queue_.emplace_back(addr, std::move(reply));
	}
	cv_.notify_one();
}

void ReverseResolver::run() {
	for (;;) {
		std::pair<sockaddr_storage, Reply> job;
		{
			std::unique_lock lock(mu_);
			cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
			if (stopping_)
				return;
			job = std::move(queue_.front());
			queue_.pop_front();
		}
		job.second(lookup_(job.first));
	}
}

} // namespace tlsup
