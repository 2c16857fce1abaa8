// SPDX-License-Identifier: GPL-2.0
//
// The "handshake" generic netlink family through libnl: a socket joined to
// the "tlshd" multicast group for READY, and a request socket for ACCEPT
// and DONE. One GenlChannel per worker.
#pragma once

#include <memory>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "handshake_channel.hpp"
#include "result.hpp"

namespace tlsup {

namespace nl_deleters {
struct Sock {
	void operator()(nl_sock *s) const { nl_socket_free(s); }
};
struct Msg {
	void operator()(nl_msg *m) const { nlmsg_free(m); }
};
} // namespace nl_deleters
using NlSock = std::unique_ptr<nl_sock, nl_deleters::Sock>;
using NlMsg = std::unique_ptr<nl_msg, nl_deleters::Msg>;

class GenlChannel final : public HandshakeChannel {
public:
	// RCVBUF: the notification socket's receive buffer; READY storms
	// beyond it are lost (and seen as ENOBUFS).
	static Result<std::unique_ptr<GenlChannel>> open(int rcvbuf_bytes = 8 << 20);

	int notify_fd() const override;
	Result<Notifications> drain_notifications() override;
	Result<std::optional<AcceptDecode>> accept() override;
	Result<void> done(const DoneMessage &msg) override;

	int family() const { return family_; }
	int group() const { return group_; }

private:
	GenlChannel() = default;
	// Sends MSG on the request socket and collects the kernel's answer
	// for its sequence number: the reply's attributes, or its error.
	Result<std::optional<std::vector<uint8_t>>> transact(nl_msg *msg, uint8_t reply_cmd);

	NlSock mcast_;
	NlSock request_;
	int family_ = -1;
	int group_ = -1;
};

} // namespace tlsup
