// SPDX-License-Identifier: GPL-2.0
// A fake of the kernel services behind <tlsup/core.h>, for running the core
// hosted: reference-counted socks and files, a descriptor table, network
// namespaces with listeners and READY counts, netlink replies as raw
// attribute bytes, a controllable clock, trace and warning logs, and fault
// injection. Thread-safe, so race tests can run under TSan.
#pragma once

#include <tlsup/core.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace fake {

struct Sock;

// struct file of a socket: its last fput releases the socket's reference.
struct File {
	std::atomic<int> refs{1};
	Sock *sock = nullptr;
};

struct Net;

struct Sock {
	std::atomic<int> refs{1};
	File *file = nullptr;
	Net *net = nullptr;
	// nullptr, the original destructor marker, or tlsup's hook.
	std::atomic<void *> destruct{nullptr};
	std::atomic<bool> destroyed{false};
	std::atomic<int> orig_destruct_calls{0};
};

// The socket's "original destructor" the consumer had installed.
void orig_destruct(Sock *sk);
void *orig_destruct_cookie();

struct Net {
	tlsup_net *core = nullptr;
	std::atomic<int> listeners{1};
	std::atomic<int> ready_sent{0};
	// Result genlmsg_multicast_netns() returns; 0 delivers.
	std::atomic<int> notify_result{0};
	std::atomic<long long> reaper_delay_ms{-1}; // -1: not armed
	std::atomic<int> reaper_arms{0};
	std::atomic<int> reaper_cancels{0};
	// Called inside notify, before it returns (to race an ACCEPT there).
	std::function<void()> on_notify;
};

struct Event {
	tlsup_trace_event ev;
	tlsup_ksock *sk;
	unsigned long long req;
	int arg;
};

// The netlink reply an ACCEPT built: raw attributes as the kernel's skb
// would carry them after the genl header.
struct Reply {
	std::vector<uint8_t> bytes;
	std::vector<size_t> nests;
	bool begun = false;
	bool sent = false;
	bool aborted = false;
	int fail_put_after = -1; // fail the Nth put with -EMSGSIZE
	int puts = 0;
	int send_result = 0;
};

class Kernel {
public:
	static Kernel &get();
	// Fresh state; checks nothing. Call between tests.
	void reset();

	Net *new_net();
	void destroy_net(Net *net); // runs tlsup_core_net_exit
	// A socket with a file; the caller owns one file reference.
	Sock *new_socket(Net *net);
	void fput(File *f);
	void sock_put(Sock *s);

	// Descriptor table of "the calling process".
	int install_fd_for_test(File *f);
	void close_fd(int fd);
	File *fd_file(int fd);
	size_t open_fds();

	std::atomic<unsigned long long> now_ms{1000000};
	std::atomic<unsigned int> max_pending{3};
	std::atomic<int> fail_alloc_after{-1}; // fail the Nth allocation from now
	std::atomic<long> live_allocs{0};
	std::atomic<int> module_refs{0};
	std::atomic<bool> module_get_fails{false};
	std::atomic<int> fd_reserve_result{0}; // <0: fail with it
	std::atomic<int> keyring_link_result{0};
	std::vector<int> linked_keyrings;
	std::function<void()> on_fd_reserve; // race hook inside ACCEPT

	std::vector<Event> events();
	size_t count(tlsup_trace_event ev);
	std::vector<std::string> warnings();

	// Internal, for the shim functions.
	std::mutex mu;
	std::vector<Event> events_;
	std::vector<std::string> warnings_;
	std::map<int, File *> fds_;
	std::map<int, bool> reserved_;
	int next_fd_ = 3;
	std::vector<Net *> nets_;
};

// Sends a DONE / ACCEPT with the given raw attributes.
struct AttrBuilder {
	std::vector<uint8_t> bytes;
	AttrBuilder &u32(uint16_t type, uint32_t v);
	AttrBuilder &s32(uint16_t type, int32_t v) { return u32(type, static_cast<uint32_t>(v)); }
	AttrBuilder &str(uint16_t type, const std::string &s);
	AttrBuilder &raw(uint16_t type, const void *p, size_t n, uint16_t flags = 0);
};

} // namespace fake
