// SPDX-License-Identifier: GPL-2.0
// libFuzzer: the core's request lifecycle driven by arbitrary sequences of
// consumer calls, agent commands (with any descriptor, status, peers and
// class), deadlines, socket closes, failed allocations and namespace exits.
// Whatever the sequence: a callback runs at most once, a failed submit
// runs none, and once everyone lets go every successful submit ended in
// exactly one of callback and cancel, with nothing leaked or warned about.
// (Attribute decoding is the genl shim's; the UML genl fuzzer covers it.)
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../../../include/uapi/linux/handshake.h"
#include "fake/fake_kernel.hpp"

namespace {

struct Callback {
	int calls = 0;
};

void on_done(void *data, int, int) {
	static_cast<Callback *>(data)->calls++;
}

struct Peer {
	fake::Sock *sk = nullptr;
	fake::File *file = nullptr;
	Callback cb;
	bool ok_submit = false;
	bool failed_submit = false;
	bool cancel_true = false;
	bool closed = false;
};

class Input {
public:
	Input(const uint8_t *d, size_t n) : d_(d), n_(n) {}
	bool more() const { return i_ < n_; }
	uint8_t byte() { return i_ < n_ ? d_[i_++] : 0; }
	uint32_t u32() {
		uint32_t v = 0;
		for (int k = 0; k < 4; k++)
			v = v << 8 | byte();
		return v;
	}

private:
	const uint8_t *d_;
	size_t n_;
	size_t i_ = 0;
};

[[noreturn]] void fail(const char *why) {
	std::fprintf(stderr, "fuzz_core_ops: %s\n", why);
	std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	auto &k = fake::Kernel::get();
	k.reset();
	if (tlsup_core_init() != 0)
		fail("init");
	fake::Net *nets[2] = {k.new_net(), k.new_net()};
	bool exited[2] = {false, false};
	constexpr int kPeers = 6;
	Peer peers[kPeers];
	for (int i = 0; i < kPeers; i++) {
		peers[i].sk = k.new_socket(nets[i % 2]);
		peers[i].file = peers[i].sk->file;
	}
	std::vector<int> fds;
	Input in(data, size);
	k.max_pending = 1 + in.byte() % 4;

	for (int step = 0; in.more() && step < 64; step++) {
		const uint8_t op = in.byte();
		Peer &p = peers[in.byte() % kPeers];
		const int n = in.byte() % 2;
		switch (op % 10) {
		case 0: { // a consumer call
			if (p.closed)
				break;
			tlsup_submit a{};
			const uint8_t f = in.byte();
			a.has_sock = !(f & 0x80) || (f & 0x40);
			a.sk = reinterpret_cast<tlsup_ksock *>(p.sk);
			a.file = reinterpret_cast<tlsup_kfile *>(p.file);
			a.done = (f & 0x20) && (f & 0x10) ? nullptr : on_done;
			a.data = &p.cb;
			a.msg_type = f & 1 ? HANDSHAKE_MSG_TYPE_SERVERHELLO
			                   : HANDSHAKE_MSG_TYPE_CLIENTHELLO;
			a.auth_mode = 1 + (f >> 1) % 4; // includes an invalid 4
			a.num_peerids = in.byte() % 7;
			for (int i = 0; i < TLSUP_MAX_PEERIDS; i++)
				a.peerids[i] = static_cast<int>(in.byte());
			a.timeout_ms = in.byte() % 3 ? 0 : 1 + in.byte();
			a.keyring = in.byte() % 2 ? 0 : 40 + in.byte() % 4;
			a.peername = in.byte() % 2 ? "peer.example" : nullptr;
			nets[n]->listeners = in.byte() % 5 ? 1 : 0;
			nets[n]->notify_result = in.byte() % 7 ? 0 : -ENOMEM;
			k.fail_alloc_after = in.byte() % 9 ? -1 : 0;
			const int ret = k.api_submit(p.sk->net, a);
			k.fail_alloc_after = -1;
			nets[n]->listeners = 1;
			nets[n]->notify_result = 0;
			if (ret == 0) {
				if (p.ok_submit)
					fail("two successful submits on one socket");
				p.ok_submit = true;
			}
			break;
		}
		case 1: // a consumer cancels only a socket it still has
			if (!p.sk->destroyed &&
			    tlsup_core_cancel(reinterpret_cast<tlsup_ksock *>(p.sk)))
				p.cancel_true = true;
			break;
		case 2: { // ACCEPT
			fake::Reply r;
			const uint8_t f = in.byte();
			r.send_result = f % 5 ? 0 : -ENOBUFS;
			k.fd_reserve_result = f % 7 == 1 ? -EMFILE : 0;
			k.keyring_link_result = f % 11 == 2 ? -EKEYREVOKED : 0;
			const int ret = k.genl_accept(nets[n], in.byte() % 4, &r);
			k.fd_reserve_result = 0;
			k.keyring_link_result = 0;
			if (ret == 0)
				fds.push_back(r.r.sockfd);
			break;
		}
		case 3: { // DONE with any descriptor the agent may name
			tlsup_done_cmd cmd{};
			const uint8_t pick = in.byte();
			cmd.sockfd = !fds.empty() && pick % 4 ? fds[pick % fds.size()] : in.byte();
			cmd.has_status = in.byte() % 4;
			cmd.status = in.u32() % 4096;
			cmd.num_remote = in.byte() % 8;
			for (int i = 0; i < TLSUP_MAX_PEERIDS; i++)
				cmd.remote[i] = static_cast<int>(in.u32());
			k.genl_done(nets[n], cmd);
			break;
		}
		case 4: // the deadline reaper, some time later
			k.now_ms += in.byte() * 100;
			if (!exited[n])
				tlsup_core_pernet_reap(nets[n]->core);
			break;
		case 5: // the consumer closes its socket
			if (!p.closed) {
				p.closed = true;
				k.fput(p.file);
			}
			break;
		case 6: // the agent closes a descriptor
			if (!fds.empty()) {
				const size_t i = in.byte() % fds.size();
				k.close_fd(fds[i]);
				fds.erase(fds.begin() + static_cast<long>(i));
			}
			break;
		case 7:
			if (!exited[n]) {
				exited[n] = true;
				k.netns_exit(nets[n]);
			}
			break;
		case 8: {
			tlsup_stats st{};
			if (!exited[n])
				tlsup_core_pernet_stats(nets[n]->core, &st);
			if (st.pending > st.inflight)
				fail("more pending than in flight");
			break;
		}
		default: // tls_handshake_close()'s question
			if (!p.sk->destroyed)
				tlsup_core_take_session(reinterpret_cast<tlsup_ksock *>(p.sk));
			break;
		}
		for (auto &q : peers)
			if (q.cb.calls > 1)
				fail("a callback ran twice");
	}

	// Everyone lets go.
	for (int fd : fds)
		k.close_fd(fd);
	for (auto &q : peers) {
		if (!q.sk->destroyed && tlsup_core_cancel(reinterpret_cast<tlsup_ksock *>(q.sk)))
			q.cancel_true = true;
		if (!q.closed)
			k.fput(q.file);
	}
	for (int n = 0; n < 2; n++) {
		if (exited[n])
			continue;
		tlsup_stats st{};
		tlsup_core_pernet_stats(nets[n]->core, &st);
		if (st.pending || st.inflight || st.live)
			fail("requests left on a list after everyone let go");
		k.netns_exit(nets[n]);
	}
	k.release_exited(nets[0]);
	k.release_exited(nets[1]);
	tlsup_core_exit();
	for (auto &q : peers) {
		if (q.ok_submit && (q.cb.calls == 1) == q.cancel_true)
			fail("a successful submit did not end in exactly one of callback and "
			     "cancel");
		if (!q.ok_submit && q.cb.calls)
			fail("a callback ran without a successful submit");
		if (!q.sk->destroyed)
			fail("a socket was never destroyed");
		if (q.sk->orig_destruct_calls != 1)
			fail("the original destructor did not run exactly once");
	}
	if (k.live_allocs.load() || k.module_refs.load() || k.open_fds() || k.reserved_fds())
		fail("leaked allocations, module references or descriptors");
	if (!k.warnings().empty())
		fail(k.warnings().front().c_str());
	delete nets[0];
	delete nets[1];
	return 0;
}
