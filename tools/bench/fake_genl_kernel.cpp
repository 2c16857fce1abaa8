// SPDX-License-Identifier: GPL-2.0
#include "fake_genl_kernel.hpp"

#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <uapi/linux/handshake.h>

#include "netlink.hpp"

namespace bench {

namespace {

// Appends one attribute (aligned) to OUT.
void put_attr(std::vector<uint8_t> &out, uint16_t type, const void *data, size_t len) {
	nlattr h{static_cast<uint16_t>(NLA_HDRLEN + len), type};
	size_t at = out.size();
	out.resize(at + NLA_ALIGN(NLA_HDRLEN + len), 0);
	std::memcpy(out.data() + at, &h, sizeof(h));
	if (len)
		std::memcpy(out.data() + at + NLA_HDRLEN, data, len);
}
void put_u32(std::vector<uint8_t> &out, uint16_t type, uint32_t v) {
	put_attr(out, type, &v, sizeof(v));
}

// The ACCEPT reply's attributes, in the kernel's order.
std::vector<uint8_t> encode_accept(const tlsup::AcceptReply &r) {
	std::vector<uint8_t> out;
	put_u32(out, HANDSHAKE_A_ACCEPT_SOCKFD, static_cast<uint32_t>(r.sockfd));
	put_u32(out, HANDSHAKE_A_ACCEPT_MESSAGE_TYPE, r.message_type);
	if (r.peername)
		put_attr(out, HANDSHAKE_A_ACCEPT_PEERNAME, r.peername->c_str(),
		         r.peername->size() + 1);
	if (r.timeout_ms)
		put_u32(out, HANDSHAKE_A_ACCEPT_TIMEOUT, r.timeout_ms);
	put_u32(out, HANDSHAKE_A_ACCEPT_AUTH_MODE, r.auth_mode);
	for (int32_t id : r.peer_identities)
		put_u32(out, HANDSHAKE_A_ACCEPT_PEER_IDENTITY, static_cast<uint32_t>(id));
	for (const auto &c : r.certificates) {
		std::vector<uint8_t> nest;
		put_u32(nest, HANDSHAKE_A_X509_CERT, static_cast<uint32_t>(c.cert));
		put_u32(nest, HANDSHAKE_A_X509_PRIVKEY, static_cast<uint32_t>(c.privkey));
		put_attr(out, HANDSHAKE_A_ACCEPT_CERTIFICATE | NLA_F_NESTED, nest.data(),
		         nest.size());
	}
	if (r.keyring)
		put_u32(out, HANDSHAKE_A_ACCEPT_KEYRING, static_cast<uint32_t>(r.keyring));
	return out;
}

// One genl message (or an nlmsgerr) as a datagram, with writev(2): the
// agent never makes that call, so the counts tell the fake's calls apart.
void send_message(int fd, uint16_t type, uint32_t seq, const void *payload, size_t len) {
	std::vector<uint8_t> buf(NLMSG_HDRLEN + NLA_ALIGN(len), 0);
	auto *nh = reinterpret_cast<nlmsghdr *>(buf.data());
	nh->nlmsg_len = static_cast<uint32_t>(buf.size());
	nh->nlmsg_type = type;
	nh->nlmsg_seq = seq;
	std::memcpy(buf.data() + NLMSG_HDRLEN, payload, len);
	iovec iov{buf.data(), buf.size()};
	while (::writev(fd, &iov, 1) < 0 && errno == EINTR) {
	}
}

void send_genl(int fd, uint8_t cmd, uint32_t seq, const std::vector<uint8_t> &attrs) {
	std::vector<uint8_t> payload(GENL_HDRLEN + attrs.size(), 0);
	auto *g = reinterpret_cast<genlmsghdr *>(payload.data());
	g->cmd = cmd;
	g->version = HANDSHAKE_FAMILY_VERSION;
	std::memcpy(payload.data() + GENL_HDRLEN, attrs.data(), attrs.size());
	send_message(fd, FakeGenlKernel::kFamily, seq, payload.data(), payload.size());
}

void send_error(int fd, uint32_t seq, int error) {
	nlmsgerr e{};
	e.error = error;
	send_message(fd, NLMSG_ERROR, seq, &e, sizeof(e));
}

} // namespace

FakeGenlKernel::FakeGenlKernel() : done_event_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

std::unique_ptr<tlsup::HandshakeChannel> FakeGenlKernel::open_channel(bool member) {
	int notify[2], request[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, notify) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, request) < 0)
		return nullptr;
	// The agent's ends non-blocking, as netlink sockets are.
	fcntl(notify[0], F_SETFL, O_NONBLOCK);
	fcntl(request[0], F_SETFL, O_NONBLOCK);
	int big = 4 << 20;
	setsockopt(notify[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(notify[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	fcntl(request[1], F_SETFL, O_NONBLOCK);
	auto ch = std::make_unique<Channel>();
	ch->notify.reset(notify[1]);
	ch->request.reset(request[1]);
	ch->member = member;
	int ours = request[1];
	{
		std::lock_guard lock(mu_);
		channels_.push_back(std::move(ch));
	}
	return tlsup::GenlChannel::adopt(tlsup::UniqueFd(notify[0]), tlsup::UniqueFd(request[0]),
	                                 kFamily, [this, ours] { answer(ours); });
}

uint64_t FakeGenlKernel::submit(tlsup::AcceptReply request, int consumer_fd,
                                key_serial_t link_keyring, bool send_keyring) {
	return try_submit(std::move(request), consumer_fd, link_keyring, send_keyring);
}

uint64_t FakeGenlKernel::try_submit(tlsup::AcceptReply request, int consumer_fd,
                                    key_serial_t link_keyring, bool send_keyring) {
	std::vector<int> members;
	uint64_t id;
	{
		std::lock_guard lock(mu_);
		if (bound_ && queue_.size() >= bound_) {
			counters_.refused++;
			return 0;
		}
		id = next_id_++;
		queue_.push_back({id, std::move(request), consumer_fd, link_keyring, send_keyring});
		for (auto &ch : channels_)
			if (ch->member)
				members.push_back(ch->notify.get());
		counters_.readies += members.size();
	}
	// Outside the lock: the agent's ACCEPT, woken by this, takes it.
	std::vector<uint8_t> attrs;
	put_u32(attrs, HANDSHAKE_A_ACCEPT_HANDLER_CLASS, HANDSHAKE_HANDLER_CLASS_TLSHD);
	for (int fd : members)
		send_genl(fd, HANDSHAKE_CMD_READY, 0, attrs);
	return id;
}

std::optional<FakeGenlKernel::Done> FakeGenlKernel::wait_done(std::chrono::milliseconds limit) {
	auto deadline = std::chrono::steady_clock::now() + limit;
	for (;;) {
		{
			std::lock_guard lock(mu_);
			if (!dones_.empty()) {
				Done d = std::move(dones_.front());
				dones_.pop_front();
				return d;
			}
		}
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
		        deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0)
			return std::nullopt;
		pollfd p{done_event_.get(), POLLIN, 0};
		::poll(&p, 1, static_cast<int>(left.count()) + 1);
		uint64_t v;
		(void)!::read(done_event_.get(), &v, sizeof(v));
	}
}

FakeGenlKernel::Counters FakeGenlKernel::counters() {
	std::lock_guard lock(mu_);
	return counters_;
}

// The message the agent just sent on FD's pair, answered before its send
// returns to it (GenlChannel::adopt's hook).
namespace {

uint64_t thread_cpu_now() {
	timespec ts{};
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace

void FakeGenlKernel::answer(int fd) {
	uint64_t t0 = thread_cpu_now();
	answer_message(fd);
	uint64_t spent = thread_cpu_now() - t0;
	std::lock_guard lock(mu_);
	counters_.own_cpu_ns += spent;
	counters_.own_clock += 2;
}

void FakeGenlKernel::answer_message(int fd) {
	alignas(nlmsghdr) uint8_t buf[8192];
	iovec iov{buf, sizeof(buf)};
	ssize_t n = ::readv(fd, &iov, 1);
	auto *nh = reinterpret_cast<nlmsghdr *>(buf);
	if (n < static_cast<ssize_t>(NLMSG_HDRLEN + GENL_HDRLEN) || nh->nlmsg_len > n ||
	    nh->nlmsg_type != kFamily) {
		std::lock_guard lock(mu_);
		counters_.errors++;
		return;
	}
	auto *g = reinterpret_cast<genlmsghdr *>(buf + NLMSG_HDRLEN);
	bool ack = nh->nlmsg_flags & NLM_F_ACK;
	const uint8_t *attrs = buf + NLMSG_HDRLEN + GENL_HDRLEN;
	size_t len = nh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	if (g->cmd == HANDSHAKE_CMD_ACCEPT)
		handle_accept(fd, nh->nlmsg_seq, ack);
	else if (g->cmd == HANDSHAKE_CMD_DONE)
		handle_done(fd, nh->nlmsg_seq, ack, attrs, len);
	else
		send_error(fd, nh->nlmsg_seq, -EOPNOTSUPP);
}

void FakeGenlKernel::handle_accept(int fd, uint32_t seq, bool ack) {
	Pending p;
	{
		std::lock_guard lock(mu_);
		if (queue_.empty()) {
			counters_.eagains++;
			send_error(fd, seq, -EAGAIN);
			return;
		}
		p = std::move(queue_.front());
		queue_.pop_front();
		counters_.accepts++;
	}
	// The fd goes into the (shared) fd table, as the kernel installs it in
	// the accepting process.
	int agent_fd = fcntl(p.consumer_fd, F_DUPFD_CLOEXEC, 3);
	if (p.link_keyring > 0)
		keyctl_link(p.link_keyring, KEY_SPEC_PROCESS_KEYRING);
	{
		std::lock_guard lock(mu_);
		counters_.own_fcntl++;
		counters_.own_keyctl += p.link_keyring > 0;
	}
	p.request.sockfd = agent_fd;
	p.request.keyring = p.send_keyring ? p.link_keyring : 0;
	{
		std::lock_guard lock(mu_);
		accepted_[agent_fd] = p.id;
	}
	send_genl(fd, HANDSHAKE_CMD_ACCEPT, seq, encode_accept(p.request));
	if (ack)
		send_error(fd, seq, 0);
}

void FakeGenlKernel::handle_done(int fd, uint32_t seq, bool ack, const uint8_t *attrs, size_t len) {
	Done d;
	int32_t sockfd = -1;
	size_t off = 0;
	while (off + NLA_HDRLEN <= len) {
		nlattr h;
		std::memcpy(&h, attrs + off, sizeof(h));
		if (h.nla_len < NLA_HDRLEN || off + h.nla_len > len)
			break;
		uint32_t v = 0;
		if (h.nla_len >= NLA_HDRLEN + 4)
			std::memcpy(&v, attrs + off + NLA_HDRLEN, 4);
		switch (h.nla_type & NLA_TYPE_MASK) {
		case HANDSHAKE_A_DONE_STATUS:
			d.status = v;
			break;
		case HANDSHAKE_A_DONE_SOCKFD:
			sockfd = static_cast<int32_t>(v);
			break;
		case HANDSHAKE_A_DONE_REMOTE_AUTH:
			d.remote.push_back(v);
			break;
		}
		off += NLA_ALIGN(h.nla_len);
	}
	{
		std::lock_guard lock(mu_);
		auto it = accepted_.find(sockfd);
		if (it == accepted_.end()) {
			counters_.errors++;
			ack = false;
			send_error(fd, seq, -EBADF); // as the kernel: no request on that fd
		} else {
			d.id = it->second;
			accepted_.erase(it);
			counters_.dones++;
			dones_.push_back(std::move(d));
		}
	}
	uint64_t one = 1;
	iovec iov{&one, sizeof(one)};
	(void)!::writev(done_event_.get(), &iov, 1);
	if (ack)
		send_error(fd, seq, 0);
}

} // namespace bench
