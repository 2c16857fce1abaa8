// SPDX-License-Identifier: GPL-2.0
#include "netlink.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <utility>

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

Result<FamilyFound> wait_for_genl_family(const char *name, const FamilyWait &how) {
	using Clock = std::chrono::steady_clock;
	NlSock ask = TRY(connect_genl());
	if (genl_ctrl_resolve(ask.get(), name) >= 0)
		return FamilyFound::kAtOnce;
	NlSock watch = TRY(connect_genl());
	int grp = genl_ctrl_resolve_grp(watch.get(), "nlctrl", "notify");
	if (grp < 0)
		return make_error(EIO, "nlctrl's \"notify\" group not found: %s", nl_geterror(grp));
	nl_socket_disable_seq_check(watch.get());
	int ret = nl_socket_add_membership(watch.get(), grp);
	if (ret < 0)
		return make_error(EIO, "cannot join nlctrl's \"notify\" group: %s",
		                  nl_geterror(ret));
	// Joined: a family registered from here on is announced.
	if (genl_ctrl_resolve(ask.get(), name) >= 0)
		return FamilyFound::kAskedAgain;
	if (how.waiting)
		how.waiting();
	auto cancelled = [&] {
		return make_error(ECANCELED,
		                  "stopped waiting for the generic netlink family \"%s\"", name);
	};
	const auto tick_every = std::max(how.tick_every, std::chrono::milliseconds(1));
	const auto ask_every = std::max(how.ask_every, std::chrono::milliseconds(1));
	auto next_tick = Clock::now();
	auto next_ask = next_tick + ask_every;
	for (;;) {
		auto now = Clock::now();
		if (now >= next_tick) {
			if (how.tick && !how.tick())
				return cancelled();
			next_tick = now + tick_every;
		}
		auto until = std::min(next_tick, next_ask) - now;
		auto ms = std::chrono::ceil<std::chrono::milliseconds>(until).count();
		pollfd p[2] = {{nl_socket_get_fd(watch.get()), POLLIN, 0},
		               {how.stop_fd, POLLIN, 0}};
		int n = ::poll(p, how.stop_fd >= 0 ? 2 : 1,
		               static_cast<int>(std::max<long>(ms, 0)));
		if (n < 0 && errno != EINTR)
			return make_error(errno, "poll: %s", strerror(errno));
		if (n > 0 && how.stop_fd >= 0 && (p[1].revents & POLLIN) && how.stop_readable &&
		    !how.stop_readable())
			return cancelled();
		bool announced = false, due = false;
		if (n > 0 && (p[0].revents & POLLIN)) {
			// What was announced does not matter: drain, then ask.
			uint8_t buf[8192];
			for (;;) {
				ssize_t r = ::recv(p[0].fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (r > 0 || (r < 0 && errno == ENOBUFS))
					continue;
				break;
			}
			announced = true;
		}
		if (Clock::now() >= next_ask) {
			due = true;
			next_ask = Clock::now() + ask_every;
		}
		if ((announced || due) && genl_ctrl_resolve(ask.get(), name) >= 0)
			return announced ? FamilyFound::kAnnounced : FamilyFound::kAskedAgain;
	}
}

bool GenlChannel::broadcast_error() const {
	int v = 0;
	socklen_t len = sizeof(v);
	if (getsockopt(notify_fd_, SOL_NETLINK, NETLINK_BROADCAST_ERROR, &v, &len) < 0)
		return false;
	return v != 0;
}

Result<std::unique_ptr<GenlChannel>> GenlChannel::open(bool notifications, bool broadcast_error,
                                                       int rcvbuf_bytes) {
	auto ch = std::unique_ptr<GenlChannel>(new GenlChannel());
	ch->request_ = TRY(connect_genl());
	ch->family_ = genl_ctrl_resolve(ch->request_.get(), HANDSHAKE_FAMILY_NAME);
	if (ch->family_ < 0)
		return make_error(ENOENT,
		                  "generic netlink family \"%s\" not found (load tlsup.ko, or use "
		                  "a kernel with net/handshake): %s",
		                  HANDSHAKE_FAMILY_NAME, nl_geterror(ch->family_));
	ch->request_fd_ = nl_socket_get_fd(ch->request_.get());
	if (!notifications)
		return ch;
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
	// as ENOBUFS, which drain_notifications() reports as an overrun.
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
	ch->notify_fd_ = fd;
	return ch;
}

std::unique_ptr<GenlChannel> GenlChannel::adopt(UniqueFd notify, UniqueFd request, int family,
                                                std::function<void()> sent) {
	auto ch = std::unique_ptr<GenlChannel>(new GenlChannel());
	ch->notify_fd_ = notify.get();
	ch->request_fd_ = request.get();
	ch->notify_owned_ = std::move(notify);
	ch->request_owned_ = std::move(request);
	ch->family_ = family;
	ch->sent_ = std::move(sent);
	return ch;
}

int GenlChannel::notify_fd() const {
	return notify_fd_;
}

int GenlChannel::answer_fd() const {
	return request_fd_;
}

Result<HandshakeChannel::Notifications> GenlChannel::drain_notifications() {
	// Up to kBatch datagrams per call: a READY and the check that nothing
	// follows it cost one recvmmsg(), not two recvmsg().
	constexpr unsigned kBatch = 32;
	constexpr size_t kSize = 512; // a READY is 28 bytes
	alignas(nlmsghdr) static thread_local uint8_t bufs[kBatch][kSize];
	Notifications out;
	int fd = notify_fd_;
	if (fd < 0)
		return out;
	for (;;) {
		mmsghdr msgs[kBatch];
		iovec iovs[kBatch];
		sockaddr_nl from[kBatch];
		for (unsigned i = 0; i < kBatch; i++) {
			iovs[i] = {bufs[i], kSize};
			from[i] = {};
			msgs[i] = {};
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_iov = &iovs[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
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
		for (int i = 0; i < n; i++) {
			if (from[i].nl_pid != 0)
				continue; // only the kernel announces requests
			for_each_message(bufs[i], msgs[i].msg_len, [&](nlmsghdr *h) {
				if (h->nlmsg_type != family_ ||
				    h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
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
		if (static_cast<unsigned>(n) < kBatch)
			return out;
	}
}

Result<uint32_t> GenlChannel::send_request(uint8_t cmd, std::span<const uint8_t> attrs) {
	// Built here rather than by libnl: one send, no heap. No NLM_F_ACK:
	// a success answers with the reply (ACCEPT) or nothing (DONE), a
	// failure with an error, so no second message is read.
	const uint32_t seq = seq_++;
	alignas(nlmsghdr) uint8_t out[NLMSG_HDRLEN + GENL_HDRLEN + 512];
	size_t len = NLMSG_HDRLEN + GENL_HDRLEN + NLA_ALIGN(attrs.size());
	if (len > sizeof(out))
		return make_error(EMSGSIZE, "netlink request of %zu bytes", len);
	std::memset(out, 0, len);
	auto *nh = reinterpret_cast<nlmsghdr *>(out);
	nh->nlmsg_len = static_cast<uint32_t>(len);
	nh->nlmsg_type = static_cast<uint16_t>(family_);
	nh->nlmsg_flags = NLM_F_REQUEST;
	nh->nlmsg_seq = seq;
	auto *gh = static_cast<genlmsghdr *>(NLMSG_DATA(nh));
	gh->cmd = cmd;
	gh->version = HANDSHAKE_FAMILY_VERSION;
	if (!attrs.empty())
		std::memcpy(out + NLMSG_HDRLEN + GENL_HDRLEN, attrs.data(), attrs.size());
	ssize_t sent;
	do
		sent = ::send(request_fd_, out, len, 0);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return make_error(EIO, "netlink send: %s", strerror(errno));
	if (sent_)
		sent_();
	return seq;
}

void GenlChannel::note_answer(const nlmsghdr *h) {
	if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)))
		return;
	auto *e = static_cast<const nlmsgerr *>(NLMSG_DATA(h));
	if (e->error == 0)
		return;
	for (auto &d : dones_) {
		if (d.seq != h->nlmsg_seq || d.fd < 0)
			continue;
		refusals_.push_back(
		        make_error(-e->error, "fd %d: DONE: %s", d.fd, strerror(-e->error)));
		d.fd = -1;
		return;
	}
	refusals_.push_back(make_error(-e->error, "an earlier request (seq %u): %s", h->nlmsg_seq,
	                               strerror(-e->error)));
}

Result<std::optional<std::vector<uint8_t>>> GenlChannel::transact(uint8_t cmd,
                                                                  std::span<const uint8_t> attrs) {
	const uint32_t seq = TRY(send_request(cmd, attrs));
	alignas(nlmsghdr) uint8_t buf[32768];
	int fd = request_fd_;
	// The kernel answers inside sendmsg(): the reply or the error is queued.
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
			return make_error(EIO, "no answer from the kernel: %s", strerror(errno));
		}
		if (mh.msg_flags & MSG_TRUNC)
			return make_error(EIO, "netlink answer truncated");
		if (from.nl_pid != 0)
			continue;
		std::optional<Result<std::optional<std::vector<uint8_t>>>> answer;
		for_each_message(buf, static_cast<size_t>(n), [&](nlmsghdr *h) {
			if (h->nlmsg_seq != seq) {
				note_answer(h); // a late refusal of an earlier DONE
				return true;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
					answer = make_error(EIO, "short netlink error message");
					return false;
				}
				auto *e = static_cast<nlmsgerr *>(NLMSG_DATA(h));
				if (e->error == 0)
					answer = std::optional<std::vector<uint8_t>>();
				else
					answer = make_error(-e->error, "%s", strerror(-e->error));
				return false;
			}
			if (h->nlmsg_type != family_ || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
				return true;
			auto *g = static_cast<genlmsghdr *>(NLMSG_DATA(h));
			if (g->cmd != cmd)
				return true;
			auto *a = reinterpret_cast<const uint8_t *>(g) + GENL_HDRLEN;
			size_t len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
			answer = std::optional<std::vector<uint8_t>>(
			        std::vector<uint8_t>(a, a + len));
			return false;
		});
		if (answer)
			return std::move(*answer);
	}
}

Result<std::optional<AcceptDecode>> GenlChannel::accept() {
	// HANDLER_CLASS = TLSHD, as one u32 attribute.
	alignas(nlattr) uint8_t attr[NLA_HDRLEN + sizeof(uint32_t)];
	nlattr hdr{static_cast<uint16_t>(sizeof(attr)), HANDSHAKE_A_ACCEPT_HANDLER_CLASS};
	uint32_t cls = HANDSHAKE_HANDLER_CLASS_TLSHD;
	std::memcpy(attr, &hdr, sizeof(hdr));
	std::memcpy(attr + NLA_HDRLEN, &cls, sizeof(cls));
	auto answer = transact(HANDSHAKE_CMD_ACCEPT, attr);
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
	// Not waited for: the kernel answers a DONE only to refuse it, and a
	// refusal changes nothing the agent does but the log and a counter
	// (done_refusals(), when answer_fd() is readable).
	auto attrs = encode_done(done);
	uint32_t seq = TRY(send_request(HANDSHAKE_CMD_DONE, attrs));
	dones_[next_done_++ % dones_.size()] = {seq, done.sockfd};
	return {};
}

std::vector<Error> GenlChannel::done_refusals() {
	alignas(nlmsghdr) uint8_t buf[8192];
	for (;;) {
		sockaddr_nl from{};
		iovec iov{buf, sizeof(buf)};
		msghdr mh{};
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		ssize_t n = recvmsg(request_fd_, &mh, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (from.nl_pid != 0)
			continue;
		for_each_message(buf, static_cast<size_t>(n), [&](nlmsghdr *h) {
			note_answer(h);
			return true;
		});
	}
	return std::exchange(refusals_, {});
}

} // namespace tlsup
