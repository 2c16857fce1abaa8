// SPDX-License-Identifier: GPL-2.0
//
// What one peer may hold: who counts as one peer, the count, and how often a
// refusal is logged.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "peer_limit.hpp"

namespace tlsup::test {
namespace {

sockaddr_storage address(const char *text) {
	sockaddr_storage ss{};
	auto &in = reinterpret_cast<sockaddr_in &>(ss);
	auto &in6 = reinterpret_cast<sockaddr_in6 &>(ss);
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
		in.sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
		in6.sin6_family = AF_INET6;
	return ss;
}

TEST(PeerLimit, APeerIsAnIpv4AddressOrAnIpv6Slash64) {
	EXPECT_EQ(PeerLimit::peer_of(address("192.0.2.7")), "192.0.2.7");
	EXPECT_EQ(PeerLimit::peer_of(address("::ffff:192.0.2.7")), "192.0.2.7");
	// Any address of a /64 is the same peer: a host may use them all.
	EXPECT_EQ(PeerLimit::peer_of(address("2001:db8:1:2::1")), "2001:db8:1:2::/64");
	EXPECT_EQ(PeerLimit::peer_of(address("2001:db8:1:2:ffff:ffff:ffff:ffff")),
	          "2001:db8:1:2::/64");
	EXPECT_NE(PeerLimit::peer_of(address("2001:db8:1:3::1")), "2001:db8:1:2::/64");
	sockaddr_storage unix_addr{};
	unix_addr.ss_family = AF_UNIX;
	EXPECT_EQ(PeerLimit::peer_of(unix_addr), "");
}

TEST(PeerLimit, EachPeerHoldsAtMostTheLimit) {
	PeerLimit limit(2);
	EXPECT_TRUE(limit.acquire("a"));
	EXPECT_TRUE(limit.acquire("a"));
	EXPECT_FALSE(limit.acquire("a"));
	EXPECT_TRUE(limit.acquire("b"));
	EXPECT_EQ(limit.held("a"), 2u);
	limit.release("a");
	EXPECT_TRUE(limit.acquire("a"));
	EXPECT_FALSE(limit.acquire("a"));
	limit.set_limit(3);
	EXPECT_TRUE(limit.acquire("a"));
	// While slots are plentiful, a peer may go past its share (a burst),
	// and is counted all the same.
	EXPECT_TRUE(limit.acquire("a", false));
	EXPECT_EQ(limit.held("a"), 4u);
	EXPECT_FALSE(limit.acquire("a", true));
	limit.release("a");
	// A peer with no address to count is never refused.
	for (int i = 0; i < 10; i++)
		EXPECT_TRUE(limit.acquire(""));
	limit.release("a");
	limit.release("a");
	limit.release("a");
	EXPECT_EQ(limit.held("a"), 0u);
	limit.release("a"); // one too many: no underflow
	EXPECT_EQ(limit.held("a"), 0u);
}

TEST(PeerLimit, RefusalsAreLoggedOncePerPeriodWithTheirCount) {
	PeerLimit limit(1);
	auto t0 = std::chrono::steady_clock::now();
	EXPECT_EQ(limit.refusals_to_log("a", t0), 1u);
	EXPECT_EQ(limit.refusals_to_log("a", t0 + std::chrono::seconds(1)), std::nullopt);
	EXPECT_EQ(limit.refusals_to_log("a", t0 + std::chrono::seconds(2)), std::nullopt);
	EXPECT_EQ(limit.refusals_to_log("b", t0 + std::chrono::seconds(2)), 1u);
	EXPECT_EQ(limit.refusals_to_log("a", t0 + PeerLimit::kLogEvery), 3u);
}

} // namespace
} // namespace tlsup::test
