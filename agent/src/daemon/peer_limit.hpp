// SPDX-License-Identifier: GPL-2.0
//
// How many handshakes one peer may hold at once, across all workers, once
// slots are scarce. A peer
// is an IPv4 address or an IPv6 /64 (one host's usual allocation: a host
// can pick any address in its /64, so counting addresses would count
// nothing); an IPv4-mapped IPv6 address is its IPv4 address. Without it, a
// peer that opens many connections and stalls them holds every one of the
// [agent] max_inflight slots until their deadlines pass, and every other
// client's handshake waits behind them.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <unordered_map>
#include <utility>

#include "pi_mutex.hpp"

namespace tlsup {

class PeerLimit {
public:
	explicit PeerLimit(unsigned limit) : limit_(limit) {}

	// The peer ADDR belongs to: "192.0.2.1" or "2001:db8:1:2::/64"; empty
	// for an address of another family (not counted).
	static std::string peer_of(const sockaddr_storage &addr);

	// Takes a place for PEER. CROWDED: whether slots are scarce (half of
	// max_inflight or more in flight): only then is a peer that holds
	// limit() already refused (false), so that a burst from one peer -- a
	// host bringing up many NVMe controllers at once -- goes through while
	// there is room, and no peer can take the second half. An empty PEER
	// always gets a place.
	bool acquire(const std::string &peer, bool crowded = true);
	void release(const std::string &peer);

	// After a refusal of PEER: how many were refused since the last time
	// one was logged, when it is time to log again (the first refusal, then
	// at most once per kLogEvery per peer); nullopt otherwise. A peer that
	// opens connections in a loop must not fill the journal.
	std::optional<uint64_t> refusals_to_log(const std::string &peer,
	                                        std::chrono::steady_clock::time_point now);
	static constexpr std::chrono::seconds kLogEvery{10};

	unsigned limit() const {
		std::lock_guard lock(mu_);
		return limit_;
	}
	void set_limit(unsigned limit) {
		std::lock_guard lock(mu_);
		limit_ = limit;
	}
	unsigned held(const std::string &peer) const;

private:
	struct Refusals {
		uint64_t unlogged = 0;
		std::chrono::steady_clock::time_point logged{};
	};
	mutable PiMutex mu_; // the acceptor acquires, workers release
	unsigned limit_;
	std::unordered_map<std::string, unsigned> held_;
	std::unordered_map<std::string, Refusals> refused_;
};

} // namespace tlsup
