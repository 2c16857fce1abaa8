// SPDX-License-Identifier: GPL-2.0
#include "netlink.hpp"

#include <cstring>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <uapi/linux/handshake.h>

namespace tlsup {

namespace {

Result<NlSock> connect_genl() {
	NlSock sock(nl_socket_alloc());
	if (!sock)
		return make_error(ENOMEM, "nl_socket_alloc failed");
	int ret = genl_connect(sock.get());
	if (ret < 0)
		return make_error(EIO, "genl_connect: %s", nl_geterror(ret));
	// The fds of ACCEPT replies are O_CLOEXEC; so are ours.
	int fd = nl_socket_get_fd(sock.get());
	int flags = fcntl(fd, F_GETFD);
	if (flags >= 0)
		fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	if ((ret = nl_socket_set_nonblocking(sock.get())) < 0)
		return make_error(EIO, "nl_socket_set_nonblocking: %s", nl_geterror(ret));
	return sock;
}

// Calls FN for each complete message in BUF[0, LEN).
template <class Fn>
void for_each_message(uint8_t *buf, size_t len, Fn fn) {
	size_t off = 0;
	while (off + sizeof(nlmsghdr) <= len) {
		auto *h = reinterpret_cast<nlmsghdr *>(buf + off);
		if (h->nlmsg_len < sizeof(nlmsghdr) || h->nlmsg_len > len - off)
			return;
		if (!fn(h))
			return;
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
}

} // namespace

bool kernel_keeps_overflowed_requests(const std::string &proc, const std::string &sys) {
	struct stat st;
	if (::stat((proc + "/net/tlsup").c_str(), &st) == 0)
		return true;
	// Where /proc/net is readable its answer stands; else ask /sys.
	if (::stat((proc + "/net/netlink").c_str(), &st) == 0)
		return false;
	return ::stat((sys + "/module/tlsup").c_str(), &st) == 0;
}

bool GenlChannel::broadcast_error() const {
	int v = 0;
	socklen_t len = sizeof(v);
	if (getsockopt(nl_socket_get_fd(mcast_.get()), SOL_NETLINK, NETLINK_BROADCAST_ERROR, &v,
	               &len) < 0)
		return false;
	return v != 0;
}

Result<std::unique_ptr<GenlChannel>> GenlChannel::open(bool broadcast_error, int rcvbuf_bytes) {
	auto ch = std::unique_ptr<GenlChannel>(new GenlChannel());
	ch->request_ = TRY(connect_genl());
	ch->family_ = genl_ctrl_resolve(ch->request_.get(), HANDSHAKE_FAMILY_NAME);
	if (ch->family_ < 0)
		return make_error(ENOENT,
		                  "generic netlink family \"%s\" not found (load tlsup.ko, or use "
		                  "a kernel with net/handshake): %s",
		                  HANDSHAKE_FAMILY_NAME, nl_geterror(ch->family_));
	ch->group_ = genl_ctrl_resolve_grp(ch->request_.get(), HANDSHAKE_FAMILY_NAME,
	                                   HANDSHAKE_MCGRP_TLSHD);
	if (ch->group_ < 0)
		return make_error(ENOENT, "multicast group \"%s\" not found: %s",
		                  HANDSHAKE_MCGRP_TLSHD, nl_geterror(ch->group_));

	ch->mcast_ = TRY(connect_genl());
	nl_socket_disable_seq_check(ch->mcast_.get());
	int ret = nl_socket_add_membership(ch->mcast_.get(), ch->group_);
	if (ret < 0)
		return make_error(EPERM, "cannot join group \"%s\": %s", HANDSHAKE_MCGRP_TLSHD,
		                  nl_geterror(ret));
	// READY storms: a large queue makes loss rare, and a loss shows up
	// as ENOBUFS, which drain_notifications() treats as READY.
	int fd = nl_socket_get_fd(ch->mcast_.get());
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf_bytes, sizeof(rcvbuf_bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof(rcvbuf_bytes));
	// On tlsup.ko the kernel learns of the loss too: a READY that
	// overflows this queue fails its multicast with ENOBUFS instead of
	// ESRCH, which tells it an agent exists here and will drain (a
	// listener elsewhere or none would be ESRCH). Upstream must not see
	// it: see kernel_keeps_overflowed_requests().
	if (broadcast_error) {
		int one = 1;
		if (setsockopt(fd, SOL_NETLINK, NETLINK_BROADCAST_ERROR, &one, sizeof(one)) < 0)
			return make_error(errno, "NETLINK_BROADCAST_ERROR: %s", strerror(errno));
	}
	return ch;
}

int GenlChannel::notify_fd() const {
	return nl_socket_get_fd(mcast_.get());
}

Result<HandshakeChannel::Notifications> GenlChannel::drain_notifications() {
	Notifications out;
	alignas(nlmsghdr) uint8_t buf[16384];
	int fd = notify_fd();
	for (;;) {
		sockaddr_nl from{};
		iovec iov{buf, sizeof(buf)};
		msghdr mh{};
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				out.overruns++; // READYs may be lost
				continue;
			}
			if (errno == EAGAIN)
				return out;
			return make_error(EIO, "notification socket: %s", strerror(errno));
		}
		if (from.nl_pid != 0)
			continue; // only the kernel announces requests
		for_each_message(buf, static_cast<size_t>(n), [&](nlmsghdr *h) {
			if (h->nlmsg_type != family_ || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
				return true;
			auto *g = static_cast<genlmsghdr *>(NLMSG_DATA(h));
			if (g->cmd != HANDSHAKE_CMD_READY)
				return true;
			auto *attrs = reinterpret_cast<const uint8_t *>(g) + GENL_HDRLEN;
			size_t len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
			auto cls = decode_ready_class({attrs, len});
			if (!cls || *cls == HANDSHAKE_HANDLER_CLASS_TLSHD)
				out.ready++;
			return true;
		});
	}
}

Result<std::optional<std::vector<uint8_t>>> GenlChannel::transact(nl_msg *msg, uint8_t reply_cmd) {
	int ret = nl_send_auto(request_.get(), msg); // adds NLM_F_ACK
	if (ret < 0)
		return make_error(EIO, "netlink send: %s", nl_geterror(ret));
	uint32_t seq = nlmsg_hdr(msg)->nlmsg_seq;
	std::optional<std::vector<uint8_t>> reply;
	alignas(nlmsghdr) uint8_t buf[32768];
	int fd = nl_socket_get_fd(request_.get());
	// The kernel answers inside sendmsg(): reply (if any), then the ack or
	// the error, are already queued.
	for (;;) {
		sockaddr_nl from{};
		iovec iov{buf, sizeof(buf)};
		msghdr mh{};
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && reply)
				return reply; // the ack went missing; the reply is what matters
			return make_error(EIO, "no answer from the kernel: %s", strerror(errno));
		}
		if (mh.msg_flags & MSG_TRUNC)
			return make_error(EIO, "netlink answer truncated");
		if (from.nl_pid != 0)
			continue;
		std::optional<Result<std::optional<std::vector<uint8_t>>>> answer;
		for_each_message(buf, static_cast<size_t>(n), [&](nlmsghdr *h) {
			if (h->nlmsg_seq != seq)
				return true; // stale answer to an earlier request
			if (h->nlmsg_type == NLMSG_ERROR) {
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
					answer = make_error(EIO, "short netlink error message");
					return false;
				}
				auto *e = static_cast<nlmsgerr *>(NLMSG_DATA(h));
				if (e->error == 0)
					answer = reply;
				else
					answer = make_error(-e->error, "%s", strerror(-e->error));
				return false;
			}
			if (h->nlmsg_type != family_ || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
				return true;
			auto *g = static_cast<genlmsghdr *>(NLMSG_DATA(h));
			if (g->cmd != reply_cmd)
				return true;
			auto *attrs = reinterpret_cast<const uint8_t *>(g) + GENL_HDRLEN;
			size_t len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
			reply.emplace(attrs, attrs + len);
			return true;
		});
		if (answer)
			return std::move(*answer);
	}
}

Result<std::optional<AcceptDecode>> GenlChannel::accept() {
	NlMsg msg(nlmsg_alloc());
	if (!msg)
		return make_error(ENOMEM, "nlmsg_alloc failed");
	if (!genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family_, 0, NLM_F_REQUEST,
	                 HANDSHAKE_CMD_ACCEPT, HANDSHAKE_FAMILY_VERSION) ||
	    nla_put_u32(msg.get(), HANDSHAKE_A_ACCEPT_HANDLER_CLASS,
	                HANDSHAKE_HANDLER_CLASS_TLSHD) < 0)
		return make_error(ENOMEM, "cannot build ACCEPT");
	auto answer = transact(msg.get(), HANDSHAKE_CMD_ACCEPT);
	if (!answer) {
		if (answer.error().code == EAGAIN)
			return std::optional<AcceptDecode>();
		return make_error(answer.error().code, "ACCEPT: %s", answer.error().reason.c_str());
	}
	if (!answer.value())
		return make_error(EIO, "ACCEPT acknowledged without a reply");
	return std::optional<AcceptDecode>(decode_accept(*answer.value()));
}

Result<void> GenlChannel::done(const DoneCommand &done) {
	NlMsg msg(nlmsg_alloc());
	if (!msg)
		return make_error(ENOMEM, "nlmsg_alloc failed");
	auto attrs = encode_done(done);
	if (!genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family_, 0, NLM_F_REQUEST,
	                 HANDSHAKE_CMD_DONE, HANDSHAKE_FAMILY_VERSION) ||
	    nlmsg_append(msg.get(), attrs.data(), attrs.size(), NLA_ALIGNTO) < 0)
		return make_error(ENOMEM, "cannot build DONE");
	auto answer = transact(msg.get(), HANDSHAKE_CMD_DONE);
	if (!answer)
		return make_error(answer.error().code, "DONE: %s", answer.error().reason.c_str());
	return {};
}

} // namespace tlsup
