// SPDX-License-Identifier: GPL-2.0
#include "peer_limit.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>

namespace tlsup {

std::string PeerLimit::peer_of(const sockaddr_storage &addr) {
	char text[INET6_ADDRSTRLEN];
	if (addr.ss_family == AF_INET) {
		const auto &in = reinterpret_cast<const sockaddr_in &>(addr);
		if (inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text)))
			return text;
		return {};
	}
	if (addr.ss_family != AF_INET6)
		return {};
	const auto &in6 = reinterpret_cast<const sockaddr_in6 &>(addr);
	if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
		if (inet_ntop(AF_INET, in6.sin6_addr.s6_addr + 12, text, sizeof(text)))
			return text;
		return {};
	}
	in6_addr prefix{};
	std::memcpy(prefix.s6_addr, in6.sin6_addr.s6_addr, 8);
	if (!inet_ntop(AF_INET6, &prefix, text, sizeof(text)))
		return {};
	return std::string(text) + "/64";
}

bool PeerLimit::acquire(const std::string &peer, bool crowded) {
	if (peer.empty())
		return true;
	std::lock_guard lock(mu_);
	unsigned &n = held_[peer];
	if (crowded && n >= limit_) {
		if (n == 0)
			held_.erase(peer);
		return false;
	}
	n++;
	return true;
}

void PeerLimit::release(const std::string &peer) {
	if (peer.empty())
		return;
	std::lock_guard lock(mu_);
	auto it = held_.find(peer);
	if (it == held_.end())
		return;
	if (--it->second == 0)
		held_.erase(it);
}

unsigned PeerLimit::held(const std::string &peer) const {
	std::lock_guard lock(mu_);
	auto it = held_.find(peer);
	return it == held_.end() ? 0 : it->second;
}

std::optional<uint64_t> PeerLimit::refusals_to_log(const std::string &peer,
                                                   std::chrono::steady_clock::time_point now) {
	std::lock_guard lock(mu_);
	// Forget peers quiet for a while, so an attacker with many addresses
	// does not grow this without bound.
	if (refused_.size() > 4096)
		std::erase_if(refused_,
		              [&](const auto &r) { return now - r.second.logged > kLogEvery; });
	Refusals &r = refused_[peer];
	r.unlogged++;
	if (r.logged != std::chrono::steady_clock::time_point{} && now - r.logged < kLogEvery)
		return std::nullopt;
	r.logged = now;
	return std::exchange(r.unlogged, 0);
}

} // namespace tlsup
