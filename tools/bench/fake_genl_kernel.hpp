// SPDX-License-Identifier: GPL-2.0
//
// A stand-in for the kernel's "handshake" family on a host without it: it
// speaks the family's wire format (nlmsghdr, genlmsghdr, attributes) over
// AF_UNIX datagram socket pairs. The agent talks to it through its own
// GenlChannel (GenlChannel::adopt), so what the benchmark measures is the
// agent's netlink code and its system calls, one for one with a real
// kernel's: READY arrives as one datagram per request on every member's
// notification socket, ACCEPT and DONE are one send each, with the answer
// queued before the send returns -- the channel calls back into this fake
// right after each send, on the agent's thread, as the kernel processes a
// genl command inside the sender's sendmsg(). The fake's own system calls
// there (readv/writev, which the agent never makes) are counted, so they can
// be told apart from the agent's.
//
// What it does not reproduce: the kernel's CPU inside those calls beyond
// the fake's own work, and ENOBUFS on a notification socket that overflows
// (its queues are sized so that they do not).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <keyutils.h>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "handshake_channel.hpp"
#include "netlink_messages.hpp"
#include "unique_fd.hpp"

namespace bench {

class FakeGenlKernel {
public:
	static constexpr int kFamily = 0x20;

	FakeGenlKernel();
	FakeGenlKernel(const FakeGenlKernel &) = delete;
	FakeGenlKernel &operator=(const FakeGenlKernel &) = delete;

	// A channel for the agent (AgentOptions::open_channel). A MEMBER gets
	// every READY, as a socket in the "tlshd" group does.
	std::unique_ptr<tlsup::HandshakeChannel> open_channel(bool member = true);

	// Queues a request for CONSUMER_FD (the caller keeps it open until the
	// request is done) and sends READY to every member. ACCEPT installs a
	// copy of the fd for the agent, links LINK_KEYRING into the process
	// keyring when it is set, and names it in KEYRING when SEND_KEYRING
	// (tlsup.ko) -- upstream 6.12 links without naming it.
	uint64_t submit(tlsup::AcceptReply request, int consumer_fd, key_serial_t link_keyring = 0,
	                bool send_keyring = true);

	// As upstream's pending bound: while BOUND requests wait for ACCEPT, a
	// submission is refused (try_submit() returns 0). 0: no bound.
	void set_pending_bound(size_t bound) { bound_ = bound; }
	uint64_t try_submit(tlsup::AcceptReply request, int consumer_fd,
	                    key_serial_t link_keyring = 0, bool send_keyring = true);

	struct Done {
		uint64_t id = 0;
		uint32_t status = 0;
		std::vector<uint32_t> remote;
	};
	// The next DONE, in the order they came; nullopt after LIMIT.
	std::optional<Done> wait_done(std::chrono::milliseconds limit);

	struct Counters {
		uint64_t readies = 0; // READY datagrams sent (one per member per request)
		uint64_t accepts = 0; // ACCEPTs that returned a request
		uint64_t eagains = 0; // ACCEPTs that found the queue empty
		uint64_t dones = 0;
		uint64_t errors = 0;  // malformed or unknown messages, DONE without a request
		uint64_t refused = 0; // submissions refused at the pending bound
		// Made on the agent's threads for the kernel's part of ACCEPT (the
		// fd it installs, the keyring it links), besides readv/writev.
		uint64_t own_fcntl = 0;
		uint64_t own_keyctl = 0;
		// Its own CPU on the agent's threads (answering ACCEPT and DONE),
		// read with two clock_gettime(CLOCK_THREAD_CPUTIME_ID) calls per
		// answer, themselves counted in own_clock.
		uint64_t own_cpu_ns = 0;
		uint64_t own_clock = 0;
	};
	Counters counters();

private:
	struct Pending {
		uint64_t id;
		tlsup::AcceptReply request;
		int consumer_fd;
		key_serial_t link_keyring;
		bool send_keyring;
	};
	struct Channel {
		tlsup::UniqueFd notify; // our ends
		tlsup::UniqueFd request;
		bool member;
	};

	void answer(int fd);
	void answer_message(int fd);
	void handle_accept(int fd, uint32_t seq, bool ack);
	void handle_done(int fd, uint32_t seq, bool ack, const uint8_t *attrs, size_t len);

	std::mutex mu_;
	// DONE is announced with writev(2) on an eventfd: a condition variable
	// would make the agent's thread wake the waiter with futex(2).
	tlsup::UniqueFd done_event_;
	std::vector<std::unique_ptr<Channel>> channels_;
	std::deque<Pending> queue_;
	std::map<int, uint64_t> accepted_; // the agent's fd -> request id
	std::deque<Done> dones_;
	Counters counters_;
	uint64_t next_id_ = 1;
	size_t bound_ = 0;
};

} // namespace bench
