// SPDX-License-Identifier: GPL-2.0
// Fixture for core tests: a fresh core and namespace per test, consumers
// that count their callbacks, and the checks every test ends with (no
// leaked allocation, module reference, descriptor or warning).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "../../../include/uapi/linux/handshake.h"
#include "fake/fake_kernel.hpp"

namespace test {

struct Callback {
	std::atomic<int> calls{0};
	std::atomic<int> status{12345};
	std::atomic<int> peerid{-1};
	// Runs inside the callback, if set (single-threaded tests only).
	std::function<void()> on_call;
};

inline void on_done(void *data, int status, int peerid) {
	auto *cb = static_cast<Callback *>(data);
	cb->status = status;
	cb->peerid = peerid;
	cb->calls++;
	if (cb->on_call)
		cb->on_call();
}

// A consumer's socket: the fake file reference is the consumer's.
struct Consumer {
	fake::Sock *sk;
	fake::File *file;
	Callback cb;

	tlsup_submit args(unsigned msg = HANDSHAKE_MSG_TYPE_CLIENTHELLO,
	                  unsigned auth = HANDSHAKE_AUTH_X509) {
		tlsup_submit a{};
		a.has_sock = true;
		a.sk = reinterpret_cast<tlsup_ksock *>(sk);
		a.file = reinterpret_cast<tlsup_kfile *>(file);
		a.done = on_done;
		a.data = &cb;
		a.msg_type = msg;
		a.auth_mode = auth;
		return a;
	}
	tlsup_ksock *ksk() const { return reinterpret_cast<tlsup_ksock *>(sk); }
};

// One ACCEPT: its return value, the reply the core decided on, and the
// descriptor it installed.
struct Accepted {
	int ret = 0;
	fake::Reply reply;
	int fd = -1;

	const tlsup_accept_reply &r() const { return reply.r; }
};

class CoreTest : public ::testing::Test {
protected:
	fake::Kernel &k = fake::Kernel::get();
	fake::Net *net = nullptr;
	std::vector<Consumer *> consumers;

	void SetUp() override {
		const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
		fake::lockdep::set_context(std::string("test ") + info->test_suite_name() + "." +
		                           info->name());
		k.reset();
		ASSERT_EQ(tlsup_core_init(), 0);
		net = k.new_net();
		ASSERT_NE(net->core, nullptr);
	}

	// The namespace's core state, while it has one.
	tlsup_core_pernet *core(fake::Net *n = nullptr) { return (n ? n : net)->core; }

	void TearDown() override {
		// Consumers close their sockets; the agent closes its fds.
		for (auto *c : consumers) {
			tlsup_core_cancel(c->ksk());
			k.fput(c->file);
			delete c;
		}
		for (int fd = 0; fd < 4096; fd++)
			if (k.fd_file(fd))
				k.close_fd(fd);
		k.destroy_net(net);
		tlsup_core_exit();
		EXPECT_EQ(k.live_allocs.load(), 0) << "leaked allocations";
		EXPECT_EQ(k.module_refs.load(), 0) << "leaked module references";
		EXPECT_TRUE(k.warnings().empty()) << k.warnings().front();
	}

	Consumer &consumer(fake::Net *n = nullptr) {
		auto *c = new Consumer();
		c->sk = k.new_socket(n ? n : net);
		c->file = c->sk->file;
		consumers.push_back(c);
		return *c;
	}

	int submit(Consumer &c, tlsup_submit a) { return k.api_submit(c.sk->net, a); }
	int submit(Consumer &c) { return submit(c, c.args()); }

	Accepted accept(uint32_t cls = HANDSHAKE_HANDLER_CLASS_TLSHD, fake::Net *n = nullptr,
	                int send_result = 0) {
		Accepted a;
		a.reply.send_result = send_result;
		a.ret = k.genl_accept(n ? n : net, cls, &a.reply);
		if (a.ret == 0)
			a.fd = a.reply.r.sockfd;
		return a;
	}

	// @status < 0: no STATUS attribute.
	int done(int fd, int status, std::vector<int32_t> remote = {}, fake::Net *n = nullptr) {
		tlsup_done_cmd cmd{};
		cmd.sockfd = fd;
		cmd.has_status = status >= 0;
		cmd.status = status >= 0 ? static_cast<unsigned>(status) : 0;
		for (auto r : remote)
			if (cmd.num_remote < TLSUP_MAX_PEERIDS)
				cmd.remote[cmd.num_remote++] = r;
		return k.genl_done(n ? n : net, cmd);
	}

	tlsup_stats stats(fake::Net *n = nullptr) {
		tlsup_stats s{};
		tlsup_core_pernet_stats(core(n), &s);
		return s;
	}
};

} // namespace test
