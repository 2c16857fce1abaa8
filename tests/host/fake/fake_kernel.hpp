// SPDX-License-Identifier: GPL-2.0
// A fake of the kernel services behind <tlsup/core.h>, for running the core
// hosted: reference-counted socks and files, a descriptor table, network
// namespaces with listeners and READY counts, the ACCEPT reply as the core
// decided it, a controllable clock, trace and warning logs, and fault
// injection. Thread-safe, so race tests can run under TSan; every shim
// function is a scheduling point of the interleaving explorer (sched.hpp).
//
// The fake also plays the C shims' own parts that surround the core: the
// consumer API's namespace lookup, the genl commands, namespace exit and
// the sk_destruct hook (api_*, genl_*, netns_exit, run_destruct), written
// to do what kernel/shim does, step for step.
#pragma once

#include <tlsup/core.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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
	// The family default ran (hooked socket whose request was gone).
	std::atomic<int> default_destruct_calls{0};
};

// The socket's "original destructor" the consumer had installed.
void orig_destruct(Sock *sk);
void *orig_destruct_cookie();
// tlsup's hook, as the shim installs it.
void *hook_cookie();

// Lock classes the fake's lock validator knows: the core's two (by
// tlsup_lock_class) and the shim's pernet lock.
enum LockClass : int {
	kLockIndex = TLSUP_LOCK_INDEX,
	kLockPernet = TLSUP_LOCK_PERNET,
	kLockShimPernet = TLSUP_LOCK_NR,
	kLockClasses,
};

// lockdep's rule, on the host: every pair of lock classes taken nested is
// recorded for the life of the process (across tests and scenarios); a
// pair that closes a cycle (A then B somewhere, B then A elsewhere), or a
// class taken while already held, is a warning naming both places.
namespace lockdep {
// Where the locks are being taken ("test X", "scenario Y, run N").
void set_context(std::string where);
void acquire(int cls);
void release(int cls);
// Every cycle found so far; empty if none.
std::string report();
// Forgets the locks held (not the recorded order): for a fresh world.
void reset_held();
} // namespace lockdep

// A lock of the fake's own (the shim's pernet lock), explorer-aware.
class Mutex {
public:
	explicit Mutex(int cls = kLockShimPernet) : cls_(cls) {}
	void lock();
	void unlock();

private:
	std::mutex mu_;
	int cls_;
};

struct Net {
	// The shim's struct tlsup_pernet: @core under @lock.
	Mutex lock;
	tlsup_core_pernet *core = nullptr;
	std::atomic<int> listeners{1};
	std::atomic<int> ready_sent{0};
	// Result genlmsg_multicast_netns() returns; 0 delivers.
	std::atomic<int> notify_result{0};
	std::atomic<long long> reaper_delay_ms{-1}; // -1: not armed
	std::atomic<int> reaper_arms{0};
	std::atomic<int> reaper_cancels{0};
	// Called inside notify, before it returns (to race an ACCEPT there).
	std::function<void()> on_notify;
	// In the explorer: READY fails with @notify_fail_result for the
	// submits of operation @notify_fail_op only.
	std::atomic<int> notify_fail_op{-1};
	std::atomic<int> notify_fail_result{0};
	// The shim's exit for this namespace finished: its net_generic memory
	// (and the reaper's delayed work in it) is gone.
	std::atomic<bool> exited{false};
	// The core's state after exit, referenced until Kernel::release_exited()
	// checks that nothing stayed in flight.
	tlsup_core_pernet *exited_core = nullptr;

	Net() = default;
	~Net();
};

struct Event {
	tlsup_trace_event ev;
	tlsup_ksock *sk;
	unsigned long long req;
	int arg;
};

// One ACCEPT's reply: what the core asked the genl shim to send.
struct Reply {
	bool sent = false;
	int send_result = 0; // <0: the send fails with it
	tlsup_accept_reply r{};
	std::string peername; // r.peername copied, if set
	bool has_peername = false;
};

class Kernel {
public:
	static Kernel &get();
	// Fresh state; checks nothing. Call between tests.
	void reset();

	Net *new_net();
	// What the shim's pernet exit does: unpublish, then the core's exit.
	void netns_exit(Net *net);
	void destroy_net(Net *net); // netns_exit (if not yet) and free
	// Once the operations racing a namespace exit are over: warns if a
	// request of the exited namespace is still in flight, drops the
	// reference netns_exit() kept. (~Net does it too.)
	void release_exited(Net *net);
	// A socket with a file; the caller owns one file reference.
	Sock *new_socket(Net *net);
	void fput(File *f);
	void sock_put(Sock *s);

	// The shims around the core (kernel/shim/api.c, genl.c).
	int api_submit(Net *net, const tlsup_submit &args);
	int genl_accept(Net *net, unsigned int cls, Reply *reply);
	int genl_done(Net *net, const tlsup_done_cmd &cmd);

	// Descriptor table of "the calling process".
	int install_fd_for_test(File *f);
	void close_fd(int fd);
	File *fd_file(int fd);
	size_t open_fds();
	size_t reserved_fds();
	// The descriptors installed now (another agent thread may close any).
	std::vector<int> fd_numbers();

	std::atomic<unsigned long long> now_ms{1000000};
	std::atomic<unsigned int> max_pending{3};
	std::atomic<int> fail_alloc_after{-1}; // fail the Nth allocation from now
	std::atomic<long> live_allocs{0};
	std::atomic<int> module_refs{0};
	std::atomic<bool> module_get_fails{false};
	// Module exit ran: any later core activity is a bug.
	std::atomic<bool> module_gone{false};
	std::atomic<int> fd_reserve_result{0}; // <0: fail with it
	std::atomic<int> keyring_link_result{0};
	// The agent's process keyring: a set, as the kernel's (a link made
	// twice is one link); and the ACCEPTs between link and outcome, per
	// keyring, as kernel/shim/keys.c tracks them.
	std::set<int> process_keyring;
	struct LinkInProgress {
		unsigned in_progress = 0;
		bool created = false;
		bool kept = false;
	};
	std::map<int, LinkInProgress> links_in_progress;
	std::function<void()> on_fd_reserve; // race hook inside ACCEPT
	// Called with the name of every scheduling point (shim calls, kstd
	// atomics) outside the explorer: a test stops an operation at one to
	// run another there. Cleared by reset().
	std::function<void(const char *where)> on_point;
	std::atomic<unsigned long> shim_calls{0};

	std::vector<Event> events();
	size_t count(tlsup_trace_event ev);
	std::vector<std::string> warnings();
	// For a test that provoked a warning on purpose and checked it.
	void reset_warnings_for_test() {
		std::lock_guard g(mu);
		warnings_.clear();
	}

	// Internal, for the shim functions.
	std::mutex mu;
	std::vector<Event> events_;
	std::vector<std::string> warnings_;
	std::map<int, File *> fds_;
	std::map<int, bool> reserved_;
	int next_fd_ = 3;
	// Destroyed sockets stay readable until reset().
	std::vector<std::unique_ptr<Sock>> socks_;
};

// Every shim function starts with this: a scheduling point, and a check
// that the module still exists.
void shim_entry(const char *what);

} // namespace fake
