// SPDX-License-Identifier: GPL-2.0
#include "fake_kernel.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "../../../include/uapi/linux/handshake.h"
#include "sched.hpp"

namespace fake {

namespace {

void hook_marker(Sock *) {}

// kernel/shim/sock.c tlsup_sk_destruct: unhook, chain the original (or
// the family's default if the request is gone), release the request.
void run_destruct(Sock *sk) {
	void *d = sk->destruct.load();
	if (d == hook_cookie()) {
		void *orig = nullptr;
		tlsup_req *req = tlsup_core_sk_unhook(reinterpret_cast<tlsup_ksock *>(sk), &orig);
		if (!req)
			sk->default_destruct_calls++;
		else if (orig == orig_destruct_cookie())
			orig_destruct(sk);
		tlsup_core_req_release(req);
	} else if (d == orig_destruct_cookie()) {
		orig_destruct(sk);
	}
}

} // namespace

void shim_entry(const char *what) {
	auto &k = Kernel::get();
	k.shim_calls++;
	if (k.module_gone.load()) {
		std::fprintf(stderr, "fake: %s called after module exit\n", what);
		std::abort();
	}
	sched::point(what);
	// A copy: the hook may clear or replace itself.
	if (k.on_point && !sched::current())
		std::function<void(const char *)>(k.on_point)(what);
}

void orig_destruct(Sock *sk) {
	sk->orig_destruct_calls++;
}

void *orig_destruct_cookie() {
	static int cookie;
	return &cookie;
}

void *hook_cookie() {
	return reinterpret_cast<void *>(&hook_marker);
}

// Who holds a lock: the explorer's coroutine, else the thread.
const void *self_token() {
	static thread_local char token;
	static char coroutine[64];
	if (sched::Run *r = sched::current())
		return &coroutine[r->self() & 63];
	return &token;
}

namespace lockdep {
namespace {

const char *const kNames[kLockClasses] = {"the core's index lock", "the core's pernet lock",
                                          "the shim's pernet lock"};

struct State {
	std::mutex mu;
	std::string context = "outside any test";
	// after[a][b]: b was taken while a was held, first seen in where[a][b].
	bool after[kLockClasses][kLockClasses] = {};
	std::string where[kLockClasses][kLockClasses];
	std::map<const void *, std::vector<int>> held;
	std::string report;
};

State &state() {
	static auto *s = new State;
	return *s;
}

// A path from @from to @to in the recorded order, as "a -> b -> c".
bool path(State &st, int from, int to, std::vector<int> &seen, std::string &out) {
	if (from == to) {
		out = kNames[to];
		return true;
	}
	for (int n = 0; n < kLockClasses; n++) {
		if (!st.after[from][n] || std::find(seen.begin(), seen.end(), n) != seen.end())
			continue;
		seen.push_back(n);
		std::string rest;
		if (path(st, n, to, seen, rest)) {
			out = std::string(kNames[from]) + " -> " + rest + " (first in " +
			      st.where[from][n] + ")";
			return true;
		}
	}
	return false;
}

void violation(State &st, const std::string &what) {
	std::fprintf(stderr, "%s\n", what.c_str());
	st.report += what + "\n";
	auto &k = Kernel::get();
	std::lock_guard g(k.mu);
	k.warnings_.push_back(what);
}

} // namespace

void set_context(std::string where) {
	State &st = state();
	std::lock_guard g(st.mu);
	st.context = std::move(where);
}

void acquire(int cls) {
	State &st = state();
	std::lock_guard g(st.mu);
	auto &held = st.held[self_token()];
	for (int h : held) {
		if (h == cls) {
			violation(st, std::string("lockdep: recursive locking of ") + kNames[cls] +
			                      " in " + st.context);
			continue;
		}
		if (st.after[h][cls])
			continue;
		// New order h -> cls: a cycle if cls already leads to h.
		std::vector<int> seen{cls};
		std::string back;
		if (path(st, cls, h, seen, back))
			violation(st, std::string("lockdep: circular locking: ") + kNames[cls] +
			                      " taken while holding " + kNames[h] + " in " +
			                      st.context + ", but elsewhere " + back);
		st.after[h][cls] = true;
		st.where[h][cls] = st.context;
	}
	held.push_back(cls);
}

void release(int cls) {
	State &st = state();
	std::lock_guard g(st.mu);
	auto &held = st.held[self_token()];
	for (auto it = held.rbegin(); it != held.rend(); ++it)
		if (*it == cls) {
			held.erase(std::next(it).base());
			return;
		}
}

std::string report() {
	State &st = state();
	std::lock_guard g(st.mu);
	return st.report;
}

void reset_held() {
	State &st = state();
	std::lock_guard g(st.mu);
	st.held.clear();
}

} // namespace lockdep

void Mutex::lock() {
	// Validated before it may block, as lockdep does: an inversion is
	// reported even in a schedule that does not deadlock.
	lockdep::acquire(cls_);
	if (sched::Run *r = sched::current())
		r->lock(this);
	else
		mu_.lock();
}

void Mutex::unlock() {
	lockdep::release(cls_);
	if (sched::Run *r = sched::current())
		r->unlock(this);
	else
		mu_.unlock();
}

Kernel &Kernel::get() {
	static Kernel k;
	return k;
}

void Kernel::reset() {
	std::lock_guard g(mu);
	events_.clear();
	warnings_.clear();
	fds_.clear();
	reserved_.clear();
	process_keyring.clear();
	links_in_progress.clear();
	next_fd_ = 3;
	max_pending = 3;
	fail_alloc_after = -1;
	module_get_fails = false;
	module_gone = false;
	fd_reserve_result = 0;
	keyring_link_result = 0;
	on_fd_reserve = nullptr;
	on_point = nullptr;
	socks_.clear();
	lockdep::reset_held();
}

Net *Kernel::new_net() {
	auto *n = new Net();
	n->core = tlsup_core_pernet_create(reinterpret_cast<tlsup_pernet *>(n));
	return n;
}

void Kernel::netns_exit(Net *net) {
	sched::point("netns_exit");
	net->lock.lock();
	tlsup_core_pernet *core = net->core;
	net->core = nullptr;
	net->lock.unlock();
	if (!core)
		return;
	// Looked at once the exit returns, through a reference of our own.
	tlsup_core_pernet_get(core);
	tlsup_core_pernet_exit(core);
	// The namespace's memory goes now: nothing of it may be left in use,
	// no request left pending. (One an operation still running has
	// claimed may still be counted in flight: release_exited() checks
	// that once the operations are over.)
	tlsup_stats st{};
	tlsup_core_pernet_stats(core, &st);
	if (st.pending)
		tlsup_shim_warn("namespace exit left requests pending");
	if (net->reaper_delay_ms.load() != -1)
		tlsup_shim_warn("namespace exit left the reaper armed");
	net->exited = true;
	net->exited_core = core;
}

void Kernel::release_exited(Net *net) {
	tlsup_core_pernet *core = std::exchange(net->exited_core, nullptr);
	if (!core)
		return;
	tlsup_stats st{};
	tlsup_core_pernet_stats(core, &st);
	if (st.pending || st.inflight)
		tlsup_shim_warn("an exited namespace still has requests in flight");
	tlsup_core_pernet_put(core);
}

Net::~Net() {
	Kernel::get().release_exited(this);
}

void Kernel::destroy_net(Net *net) {
	netns_exit(net);
	release_exited(net);
	delete net;
}

// kernel/shim/pernet.c tlsup_pernet_get.
static tlsup_core_pernet *pernet_get(Net *net) {
	sched::point("tlsup_pernet_get");
	net->lock.lock();
	tlsup_core_pernet *core = net->core;
	if (core)
		tlsup_core_pernet_get(core);
	net->lock.unlock();
	return core;
}

int Kernel::api_submit(Net *net, const tlsup_submit &args) {
	tlsup_core_pernet *core = pernet_get(net);
	if (!core)
		return -EOPNOTSUPP;
	return tlsup_core_submit(core, &args, 0xcc0);
}

int Kernel::genl_accept(Net *net, unsigned int cls, Reply *reply) {
	tlsup_core_pernet *core = pernet_get(net);
	if (!core)
		return -EOPNOTSUPP;
	tlsup_accept_cmd cmd{cls};
	int ret = tlsup_core_cmd_accept(core, &cmd, reinterpret_cast<tlsup_nl_reply *>(reply));
	tlsup_core_pernet_put(core);
	return ret;
}

int Kernel::genl_done(Net *net, const tlsup_done_cmd &cmd) {
	tlsup_core_pernet *core = pernet_get(net);
	if (!core)
		return -EOPNOTSUPP;
	int ret = tlsup_core_cmd_done(core, &cmd);
	tlsup_core_pernet_put(core);
	return ret;
}

Sock *Kernel::new_socket(Net *net) {
	auto *s = new Sock();
	{
		std::lock_guard g(mu);
		socks_.emplace_back(s);
	}
	auto *f = new File();
	s->file = f;
	s->net = net;
	s->destruct = orig_destruct_cookie();
	f->sock = s;
	return s;
}

void Kernel::fput(File *f) {
	if (f->refs.fetch_sub(1) != 1)
		return;
	Sock *s = f->sock;
	delete f;
	if (s) {
		s->file = nullptr;
		sock_put(s);
	}
}

void Kernel::sock_put(Sock *s) {
	if (s->refs.fetch_sub(1) != 1)
		return;
	if (s->destroyed.load()) {
		std::fprintf(stderr, "fake: socket destroyed twice\n");
		std::abort();
	}
	// The socket is valid while its destructor runs, gone after.
	run_destruct(s);
	s->destroyed = true;
	// Freed at reset(), so that a test can still read its counters; the
	// destroyed flag stands for the free.
}

int Kernel::install_fd_for_test(File *f) {
	std::lock_guard g(mu);
	int fd = next_fd_++;
	fds_[fd] = f;
	return fd;
}

void Kernel::close_fd(int fd) {
	File *f = nullptr;
	{
		std::lock_guard g(mu);
		auto it = fds_.find(fd);
		if (it == fds_.end())
			return;
		f = it->second;
		fds_.erase(it);
	}
	fput(f);
}

File *Kernel::fd_file(int fd) {
	std::lock_guard g(mu);
	auto it = fds_.find(fd);
	return it == fds_.end() ? nullptr : it->second;
}

size_t Kernel::open_fds() {
	std::lock_guard g(mu);
	return fds_.size();
}

size_t Kernel::reserved_fds() {
	std::lock_guard g(mu);
	return reserved_.size();
}

std::vector<int> Kernel::fd_numbers() {
	std::lock_guard g(mu);
	std::vector<int> out;
	for (auto &[fd, f] : fds_)
		out.push_back(fd);
	return out;
}

std::vector<Event> Kernel::events() {
	std::lock_guard g(mu);
	return events_;
}

size_t Kernel::count(tlsup_trace_event ev) {
	std::lock_guard g(mu);
	size_t n = 0;
	for (const auto &e : events_)
		n += e.ev == ev;
	return n;
}

std::vector<std::string> Kernel::warnings() {
	std::lock_guard g(mu);
	return warnings_;
}

} // namespace fake

using fake::Kernel;
using fake::shim_entry;

static fake::Sock *S(tlsup_ksock *sk) {
	return reinterpret_cast<fake::Sock *>(sk);
}
static fake::File *F(tlsup_kfile *f) {
	return reinterpret_cast<fake::File *>(f);
}
static fake::Net *N(tlsup_pernet *n) {
	return reinterpret_cast<fake::Net *>(n);
}

// A core lock: a mutex, explorer-aware, that knows its holder.
struct FakeLock {
	explicit FakeLock(int cls) : mu(cls) {}
	fake::Mutex mu;
	std::atomic<const void *> holder{nullptr};
};

using fake::self_token;

// The names of atomic switch points, interned ("fetch_sub in put").
static const char *atomic_point_name(const char *op, const char *caller) {
	static std::mutex mu;
	static auto *names = new std::set<std::string>;
	std::lock_guard g(mu);
	return names->insert(std::string("atomic ") + op + " in " + caller).first->c_str();
}

extern "C" {

const unsigned int tlsup_gfp_kernel = 0xcc0;

void *tlsup_shim_alloc(unsigned long size, unsigned int) {
	shim_entry(__func__);
	auto &k = Kernel::get();
	int n = k.fail_alloc_after.load();
	while (n >= 0) {
		if (k.fail_alloc_after.compare_exchange_weak(n, n - 1)) {
			if (n == 0)
				return nullptr;
			break;
		}
	}
	k.live_allocs++;
	return std::malloc(size);
}

void tlsup_shim_free(const void *p) {
	shim_entry(__func__);
	if (!p)
		return;
	Kernel::get().live_allocs--;
	std::free(const_cast<void *>(p));
}

void tlsup_shim_bug(const char *why) {
	std::fprintf(stderr, "BUG: %s\n", why);
	std::abort();
}

void tlsup_shim_warn(const char *why) {
	auto &k = Kernel::get();
	std::lock_guard g(k.mu);
	k.warnings_.push_back(why);
}

// kmalloc()ed by the shim: counted with the other allocations.
tlsup_lock *tlsup_shim_lock_create(tlsup_lock_class cls, unsigned int) {
	shim_entry(__func__);
	Kernel::get().live_allocs++;
	return reinterpret_cast<tlsup_lock *>(new FakeLock(cls));
}

void tlsup_host_atomic_point(const char *op, const char *caller) {
	if (fake::sched::current())
		fake::sched::point(atomic_point_name(op, caller));
	else if (auto &k = Kernel::get(); k.on_point)
		std::function<void(const char *)>(k.on_point)(atomic_point_name(op, caller));
}

void tlsup_shim_lock_destroy(tlsup_lock *lock) {
	shim_entry(__func__);
	Kernel::get().live_allocs--;
	delete reinterpret_cast<FakeLock *>(lock);
}

void tlsup_shim_lock(tlsup_lock *lock) {
	shim_entry(__func__);
	auto *l = reinterpret_cast<FakeLock *>(lock);
	l->mu.lock();
	l->holder = self_token();
}

void tlsup_shim_unlock(tlsup_lock *lock) {
	shim_entry(__func__);
	auto *l = reinterpret_cast<FakeLock *>(lock);
	l->holder = nullptr;
	l->mu.unlock();
}

void tlsup_shim_lock_assert_held(tlsup_lock *lock) {
	if (reinterpret_cast<FakeLock *>(lock)->holder.load() != self_token())
		tlsup_shim_warn("lockdep: lock not held");
}

unsigned long long tlsup_shim_now_ms(void) {
	shim_entry(__func__);
	return Kernel::get().now_ms.load();
}

unsigned int tlsup_shim_max_pending(void) {
	shim_entry(__func__);
	return Kernel::get().max_pending.load();
}

bool tlsup_shim_module_get(void) {
	shim_entry(__func__);
	auto &k = Kernel::get();
	if (k.module_get_fails)
		return false;
	k.module_refs++;
	return true;
}

void tlsup_shim_module_put(void) {
	shim_entry(__func__);
	if (Kernel::get().module_refs.fetch_sub(1) <= 0)
		tlsup_shim_warn("module reference underflow");
	// The module may be unloaded from here on: let the explorer try.
	fake::sched::point("after module_put");
}

int tlsup_shim_notify_ready(tlsup_pernet *pn, unsigned int, unsigned int) {
	shim_entry(__func__);
	fake::Net *n = N(pn);
	if (n->listeners.load() <= 0)
		return -ESRCH;
	if (fake::sched::Run *run = fake::sched::current();
	    run && run->self() == n->notify_fail_op.load())
		return n->notify_fail_result.load();
	if (n->on_notify)
		n->on_notify();
	int r = n->notify_result.load();
	if (r == 0)
		n->ready_sent++;
	return r == -ENOBUFS ? 0 : r;
}

void tlsup_shim_reaper_arm(tlsup_pernet *pn, unsigned long long delay_ms) {
	shim_entry(__func__);
	if (N(pn)->exited.load())
		tlsup_shim_warn("reaper armed in an exited namespace's freed memory");
	N(pn)->reaper_delay_ms = static_cast<long long>(delay_ms);
	N(pn)->reaper_arms++;
}

void tlsup_shim_reaper_cancel_sync(tlsup_pernet *pn) {
	shim_entry(__func__);
	N(pn)->reaper_delay_ms = -1;
	N(pn)->reaper_cancels++;
}

void tlsup_shim_sock_hold(tlsup_ksock *sk) {
	shim_entry(__func__);
	if (S(sk)->refs.fetch_add(1) <= 0)
		tlsup_shim_warn("sock_hold on a dead socket");
}

void tlsup_shim_sock_put(tlsup_ksock *sk) {
	shim_entry(__func__);
	Kernel::get().sock_put(S(sk));
}

void tlsup_shim_file_get(tlsup_kfile *file) {
	shim_entry(__func__);
	if (F(file)->refs.fetch_add(1) <= 0)
		tlsup_shim_warn("get_file on a dead file");
}

void tlsup_shim_file_put(tlsup_kfile *file) {
	shim_entry(__func__);
	Kernel::get().fput(F(file));
}

void *tlsup_shim_sk_hook_destruct(tlsup_ksock *sk) {
	shim_entry(__func__);
	return S(sk)->destruct.exchange(fake::hook_cookie());
}

void tlsup_shim_sk_restore_destruct(tlsup_ksock *sk, void *orig) {
	shim_entry(__func__);
	S(sk)->destruct = orig;
}

int tlsup_shim_fd_reserve(void) {
	shim_entry(__func__);
	auto &k = Kernel::get();
	if (k.on_fd_reserve)
		k.on_fd_reserve();
	if (k.fd_reserve_result < 0)
		return k.fd_reserve_result;
	std::lock_guard g(k.mu);
	int fd = k.next_fd_++;
	k.reserved_[fd] = true;
	return fd;
}

void tlsup_shim_fd_unreserve(int fd) {
	shim_entry(__func__);
	auto &k = Kernel::get();
	std::lock_guard g(k.mu);
	if (!k.reserved_.erase(fd))
		k.warnings_.push_back("put_unused_fd of an fd not reserved");
}

void tlsup_shim_fd_install(int fd, tlsup_kfile *file) {
	shim_entry(__func__);
	auto &k = Kernel::get();
	std::lock_guard g(k.mu);
	if (!k.reserved_.erase(fd))
		k.warnings_.push_back("fd_install of an fd not reserved");
	k.fds_[fd] = F(file);
}

int tlsup_shim_keyring_link(int keyring) {
	shim_entry(__func__);
	auto &k = Kernel::get();
	if (k.keyring_link_result < 0)
		return k.keyring_link_result;
	std::lock_guard g(k.mu);
	auto [it, is_new] = k.links_in_progress.try_emplace(keyring);
	if (is_new)
		it->second.created = !k.process_keyring.count(keyring);
	k.process_keyring.insert(keyring);
	it->second.in_progress++;
	return 0;
}

void tlsup_shim_keyring_release(int keyring, bool keep) {
	shim_entry(__func__);
	auto &k = Kernel::get();
	std::lock_guard g(k.mu);
	auto it = k.links_in_progress.find(keyring);
	if (it == k.links_in_progress.end()) {
		k.warnings_.push_back("keyring released that no ACCEPT linked");
		return;
	}
	it->second.kept |= keep;
	if (--it->second.in_progress)
		return;
	if (it->second.created && !it->second.kept)
		k.process_keyring.erase(keyring);
	k.links_in_progress.erase(it);
}

int tlsup_shim_accept_reply(tlsup_nl_reply *reply, const tlsup_accept_reply *r) {
	shim_entry(__func__);
	auto *rep = reinterpret_cast<fake::Reply *>(reply);
	if (rep->send_result < 0)
		return rep->send_result;
	rep->sent = true;
	rep->r = *r;
	rep->has_peername = r->peername != nullptr;
	rep->peername = r->peername ? r->peername : "";
	rep->r.peername = nullptr; // the core's copy is not ours to keep
	return 0;
}

tlsup_ksocket *tlsup_shim_sockfd_get(int fd, tlsup_ksock **sk, int *err) {
	shim_entry(__func__);
	fake::File *f = Kernel::get().fd_file(fd);
	if (!f) {
		*err = -EBADF;
		return nullptr;
	}
	if (!f->sock) {
		*err = -ENOTSOCK;
		return nullptr;
	}
	f->refs++;
	*sk = reinterpret_cast<tlsup_ksock *>(f->sock);
	return reinterpret_cast<tlsup_ksocket *>(f);
}

void tlsup_shim_sockfd_put(tlsup_ksocket *sock) {
	shim_entry(__func__);
	Kernel::get().fput(reinterpret_cast<fake::File *>(sock));
}

void tlsup_shim_trace(tlsup_trace_event ev, tlsup_ksock *sk, unsigned long long req_id, int arg) {
	shim_entry(__func__);
	auto &k = Kernel::get();
	// The tracepoints read sock_net(sk): the socket must still exist.
	if (sk && S(sk)->destroyed.load())
		tlsup_shim_warn("tracepoint on a destroyed socket");
	std::lock_guard g(k.mu);
	k.events_.push_back({ev, sk, req_id, arg});
}

void tlsup_shim_seq_printf(tlsup_seq *seq, const char *fmt, ...) {
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	std::vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	reinterpret_cast<std::string *>(seq)->append(buf);
}

void tlsup_shim_seq_sock(tlsup_seq *seq, tlsup_ksock *sk) {
	shim_entry(__func__);
	const fake::Sock *s = S(sk);
	if (s->destroyed.load()) {
		// The hook takes the index lock before the socket goes.
		std::fprintf(stderr, "fake: /proc shows a destroyed socket\n");
		std::abort();
	}
	tlsup_shim_seq_printf(seq, " sk_state=fake sk_refs=%d sk_wmem=1 orphan=%d", s->refs.load(),
	                      s->file == nullptr);
}

} // extern "C"
