// SPDX-License-Identifier: GPL-2.0
//
// A stand-in for the kernel's side of the "handshake" family: a queue of
// ACCEPT replies, a record of DONEs, and notifications on an eventfd.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fcntl.h>
#include <functional>
#include <keyutils.h>
#include <mutex>
#include <sys/eventfd.h>

#include "handshake_channel.hpp"
#include "test_support.hpp"
#include "unique_fd.hpp"

#include <uapi/linux/handshake.h>

namespace tlsup::test {

struct FakeKernel {
	std::mutex mu;
	std::condition_variable cv;
	std::deque<AcceptDecode> queue;
	std::deque<std::pair<key_serial_t, bool>> links; // per queued request
	std::vector<DoneCommand> dones;
	std::vector<bool> fd_open_at_done;
	unsigned accepts = 0;
	unsigned eagains = 0;
	unsigned outstanding = 0; // accepted, not yet done
	unsigned max_outstanding = 0;
	// Runs inside each DONE, under MU (set it under MU too).
	std::function<void()> on_done;
	// Runs inside each ACCEPT that takes a request, under MU (set it under
	// MU too): the agent's acceptor is the caller.
	std::function<void()> on_accept;

	void submit(AcceptReply req) {
		AcceptDecode d;
		d.request = std::move(req);
		submit(std::move(d));
	}
	void submit(AcceptDecode d) {
		std::lock_guard lock(mu);
		queue.push_back(std::move(d));
		links.push_back({0, true});
	}
	// As the kernel does with ta_keyring: the ACCEPT links RING into the
	// caller's process keyring, and names it in KEYRING (tlsup.ko) or not
	// (upstream 6.12).
	void submit(AcceptReply req, key_serial_t ring, bool send_keyring) {
		std::lock_guard lock(mu);
		req.keyring = send_keyring ? ring : 0;
		AcceptDecode d;
		d.request = std::move(req);
		queue.push_back(std::move(d));
		links.push_back({ring, send_keyring});
	}
	// Until the agent has seen N empty queues (its start-up ACCEPT is the
	// first): a test that must submit after it waits for it, not a guess.
	bool wait_eagains(unsigned n, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
		std::unique_lock lock(mu);
		return cv.wait_for(lock, limit, [&] { return eagains >= n; });
	}
	bool wait_dones(size_t n, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
		std::unique_lock lock(mu);
		return cv.wait_for(lock, limit, [&] { return dones.size() >= n; });
	}
	std::vector<DoneCommand> done_copy() {
		std::lock_guard lock(mu);
		return dones;
	}
};

class FakeChannel final : public HandshakeChannel {
public:
	explicit FakeChannel(FakeKernel &k)
	    : k_(k), event_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

	void notify_ready(unsigned n = 1) { signal(ready_, n); }
	void notify_overrun() { signal(overruns_, 1); }

	int notify_fd() const override { return event_.get(); }

	// How often the agent read the notifications.
	unsigned drains() const { return drains_.load(); }

	// The next read of the notifications fails, after consuming them (as a
	// recvmmsg() that fails after reading some would).
	void fail_next_drain() { fail_drain_ = true; }

	Result<Notifications> drain_notifications() override {
		drains_++;
		uint64_t v;
		while (::read(event_.get(), &v, sizeof(v)) > 0) {
		}
		if (fail_drain_.exchange(false)) {
			ready_.exchange(0);
			return make_error(EIO, "fake recvmmsg: EIO");
		}
		Notifications n;
		n.ready = ready_.exchange(0);
		n.overruns = overruns_.exchange(0);
		return n;
	}

	Result<std::optional<AcceptDecode>> accept() override {
		std::lock_guard lock(k_.mu);
		if (k_.queue.empty()) {
			k_.eagains++;
			k_.cv.notify_all();
			return std::optional<AcceptDecode>();
		}
		AcceptDecode d = std::move(k_.queue.front());
		k_.queue.pop_front();
		auto [ring, sent] = k_.links.front();
		k_.links.pop_front();
		if (ring > 0 && keyctl_link(ring, KEY_SPEC_PROCESS_KEYRING) < 0)
			return make_error(EIO, "fake ACCEPT: cannot link keyring %d", ring);
		k_.accepts++;
		if (k_.on_accept)
			k_.on_accept();
		k_.outstanding++;
		k_.max_outstanding = std::max(k_.max_outstanding, k_.outstanding);
		return std::optional<AcceptDecode>(std::move(d));
	}

	Result<void> done(const DoneCommand &msg) override {
		std::lock_guard lock(k_.mu);
		k_.dones.push_back(msg);
		k_.fd_open_at_done.push_back(fcntl(msg.sockfd, F_GETFD) != -1);
		if (k_.on_done)
			k_.on_done();
		k_.outstanding--;
		k_.cv.notify_all();
		return {};
	}

private:
	void signal(std::atomic<unsigned> &counter, unsigned n) {
		counter.fetch_add(n);
		uint64_t one = 1;
		(void)!::write(event_.get(), &one, sizeof(one));
	}

	FakeKernel &k_;
	UniqueFd event_;
	std::atomic<unsigned> ready_{0}, overruns_{0}, drains_{0};
	std::atomic<bool> fail_drain_{false};
};

// The ACCEPT reply of a server request (SERVERHELLO) in AUTH_MODE
// (HANDSHAKE_AUTH_*) for SOCK, whose descriptor it takes over as the
// kernel's; TIMEOUT_MS as the kernel's TIMEOUT.
inline AcceptReply server_accept_reply(UniqueFd sock, uint32_t auth_mode, uint32_t timeout_ms = 0) {
	AcceptReply r;
	r.sockfd = sock.release();
	r.message_type = HANDSHAKE_MSG_TYPE_SERVERHELLO;
	r.auth_mode = auth_mode;
	r.timeout_ms = timeout_ms;
	return r;
}

// A client-anon request (to "server.test") queued in K for the agent end of
// a fresh socket pair, with a GnuTLS server on the other end (P; by default
// the test PKI's server certificate); TIMEOUT_MS as the kernel's TIMEOUT.
struct Conn {
	std::unique_ptr<Peer> peer;
	int agent_fd;
};

inline Conn client_request(FakeKernel &k, PeerOptions p = {}, uint32_t timeout_ms = 0) {
	auto fds = tcp_pair();
	if (p.cert.empty() && p.misbehave == PeerOptions::Misbehave::None)
		p.cert = p.key = "server";
	AcceptReply r;
	r.sockfd = fds.first.release();
	r.message_type = HANDSHAKE_MSG_TYPE_CLIENTHELLO;
	r.auth_mode = HANDSHAKE_AUTH_UNAUTH;
	r.peername = "server.test";
	r.timeout_ms = timeout_ms;
	int fd = r.sockfd;
	k.submit(std::move(r));
	return {std::make_unique<Peer>(std::move(fds.second), p), fd};
}

// A server PSK request through KERNEL (READY on CHANNEL) against a GnuTLS
// client offering IDENTITY with KEY; RING is the request's own keyring,
// linked by the ACCEPT and named in KEYRING when SEND_KEYRING. Returns the
// DONE status: EIO where the handshake succeeded (the build host has no
// kTLS), EKEYREJECTED where the identity was not found.
inline uint32_t server_psk_status(FakeKernel &kernel, FakeChannel &channel,
                                  const std::string &identity, const std::vector<uint8_t> &key,
                                  key_serial_t ring = 0, bool send_keyring = false) {
	auto fds = tcp_pair();
	size_t before = kernel.done_copy().size();
	kernel.submit(server_accept_reply(std::move(fds.second), HANDSHAKE_AUTH_PSK), ring,
	              send_keyring);
	PeerOptions p;
	p.server = false;
	p.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+PSK";
	p.psk_identity = identity;
	p.psk_key = key;
	Peer peer(std::move(fds.first), p);
	channel.notify_ready();
	if (!kernel.wait_dones(before + 1))
		return ~0u;
	peer.wait();
	return kernel.done_copy().back().status;
}

} // namespace tlsup::test
