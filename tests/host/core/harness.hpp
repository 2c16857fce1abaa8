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
#include "core/nl_attr.hpp"
#include "fake/fake_kernel.hpp"

namespace test {

struct Callback {
	std::atomic<int> calls{0};
	std::atomic<int> status{12345};
	std::atomic<int> peerid{-1};
};

inline void on_done(void *data, int status, int peerid) {
	auto *cb = static_cast<Callback *>(data);
	cb->status = status;
	cb->peerid = peerid;
	cb->calls++;
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

// Decoded ACCEPT reply.
struct Accepted {
	int ret = 0;
	fake::Reply reply;
	std::vector<std::pair<uint16_t, std::vector<uint8_t>>> attrs;
	int fd = -1;

	bool has(uint16_t t) const {
		for (auto &a : attrs)
			if (a.first == t)
				return true;
		return false;
	}
	uint32_t u32(uint16_t t) const {
		for (auto &a : attrs)
			if (a.first == t) {
				uint32_t v;
				std::memcpy(&v, a.second.data(), 4);
				return v;
			}
		ADD_FAILURE() << "no attribute " << t;
		return 0;
	}
	std::string str(uint16_t t) const {
		for (auto &a : attrs)
			if (a.first == t)
				return reinterpret_cast<const char *>(a.second.data());
		return "";
	}
	std::vector<uint16_t> order() const {
		std::vector<uint16_t> o;
		for (auto &a : attrs)
			o.push_back(a.first);
		return o;
	}
};

class CoreTest : public ::testing::Test {
protected:
	fake::Kernel &k = fake::Kernel::get();
	fake::Net *net = nullptr;
	std::vector<Consumer *> consumers;

	void SetUp() override {
		k.reset();
		ASSERT_EQ(tlsup_core_init(), 0);
		net = k.new_net();
		ASSERT_NE(net->core, nullptr);
	}

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

	int submit(Consumer &, tlsup_submit a) { return tlsup_core_submit(&a, 0xcc0); }
	int submit(Consumer &c) { return submit(c, c.args()); }

	Accepted accept(uint32_t cls = HANDSHAKE_HANDLER_CLASS_TLSHD, fake::Net *n = nullptr) {
		fake::AttrBuilder b;
		b.u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, cls);
		return accept_raw(b.bytes, n);
	}

	Accepted accept_raw(const std::vector<uint8_t> &req, fake::Net *n = nullptr) {
		Accepted a;
		a.ret = tlsup_core_cmd_accept((n ? n : net)->core, req.data(),
		                              static_cast<unsigned>(req.size()),
		                              reinterpret_cast<tlsup_nl_reply *>(&a.reply));
		tlsup::nl::AttrReader rd({a.reply.bytes.data(), a.reply.bytes.size()});
		tlsup::nl::Attr at;
		while (rd.next(at))
			a.attrs.push_back({at.type, {at.payload.begin(), at.payload.end()}});
		if (a.ret == 0)
			a.fd = static_cast<int>(a.u32(HANDSHAKE_A_ACCEPT_SOCKFD));
		return a;
	}

	int done(int fd, int status, std::vector<uint32_t> remote = {}, fake::Net *n = nullptr) {
		fake::AttrBuilder b;
		b.s32(HANDSHAKE_A_DONE_SOCKFD, fd);
		if (status >= 0)
			b.u32(HANDSHAKE_A_DONE_STATUS, static_cast<uint32_t>(status));
		for (auto r : remote)
			b.u32(HANDSHAKE_A_DONE_REMOTE_AUTH, r);
		return done_raw(b.bytes, n);
	}

	int done_raw(const std::vector<uint8_t> &bytes, fake::Net *n = nullptr) {
		return tlsup_core_cmd_done((n ? n : net)->core, bytes.data(),
		                           static_cast<unsigned>(bytes.size()));
	}

	tlsup_stats stats(fake::Net *n = nullptr) {
		tlsup_stats s{};
		tlsup_core_net_stats((n ? n : net)->core, &s);
		return s;
	}
};

} // namespace test
