// SPDX-License-Identifier: GPL-2.0
//
// The "handshake" generic netlink family: libnl resolves it and joins the
// "tlshd" multicast group for READY; ACCEPT and DONE are built and sent
// here, one send() each, without NLM_F_ACK. One GenlChannel for the
// acceptor (READY, ACCEPT) and one per worker (DONE).
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <linux/netlink.h>
#include <memory>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <span>
#include <string>

#include "handshake_channel.hpp"
#include "result.hpp"
#include "unique_fd.hpp"

namespace tlsup {

namespace nl_deleters {
struct Sock {
	void operator()(nl_sock *s) const { nl_socket_free(s); }
};
} // namespace nl_deleters
using NlSock = std::unique_ptr<nl_sock, nl_deleters::Sock>;

// Whether the kernel side is tlsup.ko, which keeps a request whose READY
// overflowed a listener's queue (the multicast fails with ENOBUFS and the
// request stays queued for ACCEPT). Upstream's net/handshake (6.12
// request.c) fails the submit on any multicast error instead, so there
// NETLINK_BROADCAST_ERROR would turn one slow worker's overflow into a
// failed handshake although another worker got the READY.
//
// The family is wire-identical by design (same name, version, ops and
// attributes): nothing in its generic netlink description tells the two
// apart. tlsup.ko's /proc/net/tlsup does: the module creates it in every
// network namespace, /proc/net resolves to the calling thread's namespace
// (the one this agent serves), and upstream kernels never have it.
// /sys/module/tlsup is the fallback where /proc/net is not readable.
bool kernel_keeps_overflowed_requests(const std::string &proc = "/proc",
                                      const std::string &sys = "/sys");

// How wait_for_genl_family() waits.
struct FamilyWait {
	// Once, when the family is first found missing.
	std::function<void()> waiting;
	// Every TICK_EVERY (at least 1 ms) while it waits, first right after
	// WAITING: the watchdog's keep-alive. False ends the wait (ECANCELED).
	std::function<bool()> tick;
	std::chrono::milliseconds tick_every{10000};
	// The family is asked for again after each of nlctrl's announcements
	// and every ASK_EVERY (an announcement lost to a full queue).
	std::chrono::milliseconds ask_every{10000};
	// Readable: STOP_READABLE runs; false ends the wait (ECANCELED). The
	// caller's signalfd.
	int stop_fd = -1;
	std::function<bool()> stop_readable;
};

enum class FamilyFound {
	kAtOnce,    // it existed
	kAnnounced, // asked again after nlctrl announced a family
	kAskedAgain // found by the periodic ask
};

// Returns once the generic netlink family NAME exists, and how it was
// found. Joins nlctrl's "notify" group before it asks, so that a family
// registered in between is not missed.
Result<FamilyFound> wait_for_genl_family(const char *name, const FamilyWait &how);

class GenlChannel final : public HandshakeChannel {
public:
	// NOTIFICATIONS: join the "tlshd" group for READY (the acceptor's
	// channel; a worker's sends DONE only). RCVBUF: the notification
	// socket's receive buffer; READY storms beyond it are lost (and seen as
	// ENOBUFS). BROADCAST_ERROR: set NETLINK_BROADCAST_ERROR
	// (kernel_keeps_overflowed_requests()).
	static Result<std::unique_ptr<GenlChannel>> open(bool notifications, bool broadcast_error,
	                                                 int rcvbuf_bytes = 8 << 20);

	// The same protocol on sockets opened elsewhere: NOTIFY receives the
	// READY datagrams, REQUEST carries ACCEPT and DONE and their answers,
	// FAMILY is the family's id. The benchmark's fake kernel speaks the
	// family's wire format over AF_UNIX datagram sockets, so the agent's
	// own netlink code (and its system calls) is what gets measured; it
	// answers in SENT, which runs right after each send, as the kernel
	// answers inside sendmsg().
	static std::unique_ptr<GenlChannel> adopt(UniqueFd notify, UniqueFd request, int family,
	                                          std::function<void()> sent);

	// NETLINK_BROADCAST_ERROR as the notification socket has it.
	bool broadcast_error() const;

	int notify_fd() const override;
	Result<Notifications> drain_notifications() override;
	Result<std::optional<AcceptDecode>> accept() override;
	Result<void> done(const DoneCommand &msg) override;
	int answer_fd() const override;
	std::vector<Error> done_refusals() override;

	int family() const { return family_; }
	int group() const { return group_; }

private:
	GenlChannel() = default;
	// Sends command CMD with ATTRS on the request socket; its sequence
	// number.
	Result<uint32_t> send_request(uint8_t cmd, std::span<const uint8_t> attrs);
	// send_request(), then the kernel's answer for it: the reply's
	// attributes, or its error.
	Result<std::optional<std::vector<uint8_t>>> transact(uint8_t cmd,
	                                                     std::span<const uint8_t> attrs);
	// An answer that is not the one transact() waits for: an error for a
	// DONE sent earlier becomes a refusal.
	void note_answer(const nlmsghdr *h);

	NlSock mcast_; // libnl's sockets, when open() made them
	NlSock request_;
	UniqueFd notify_owned_, request_owned_; // adopt()ed ones
	int notify_fd_ = -1;
	int request_fd_ = -1;
	int family_ = -1;
	int group_ = -1;
	uint32_t seq_ = 1;
	std::function<void()> sent_; // adopt()ed: the peer answers here
	// The last DONEs sent, to name the fd of a refusal that comes later.
	struct SentDone {
		uint32_t seq = 0;
		int fd = -1;
	};
	std::array<SentDone, 256> dones_{};
	size_t next_done_ = 0;
	std::vector<Error> refusals_;
};

} // namespace tlsup
