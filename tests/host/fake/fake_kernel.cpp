// SPDX-License-Identifier: GPL-2.0
#include "fake_kernel.hpp"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fake {

namespace {

void hook_marker(Sock *) {}

// What the shim's sk_destruct hook does (kernel/shim/sock.c).
void run_destruct(Sock *sk) {
	void *d = sk->destruct.load();
	if (d == reinterpret_cast<void *>(&hook_marker)) {
		void *orig = nullptr;
		tlsup_req *req = tlsup_core_sk_unhook(reinterpret_cast<tlsup_ksock *>(sk), &orig);
		if (orig == orig_destruct_cookie())
			orig_destruct(sk);
		tlsup_core_req_release(req);
	} else if (d == orig_destruct_cookie()) {
		orig_destruct(sk);
	}
}

} // namespace

void orig_destruct(Sock *sk) {
	sk->orig_destruct_calls++;
}

void *orig_destruct_cookie() {
	static int cookie;
	return &cookie;
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
	linked_keyrings.clear();
	next_fd_ = 3;
	max_pending = 3;
	fail_alloc_after = -1;
	module_get_fails = false;
	fd_reserve_result = 0;
	keyring_link_result = 0;
	on_fd_reserve = nullptr;
}

Net *Kernel::new_net() {
	auto *n = new Net();
	n->core = tlsup_core_net_create(reinterpret_cast<tlsup_knet *>(n));
	return n;
}

void Kernel::destroy_net(Net *net) {
	tlsup_core_net_exit(net->core);
	delete net;
}

Sock *Kernel::new_socket(Net *net) {
	auto *s = new Sock();
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
	s->destroyed = true;
	run_destruct(s);
	delete s;
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

AttrBuilder &AttrBuilder::raw(uint16_t type, const void *p, size_t n, uint16_t flags) {
	uint16_t len = static_cast<uint16_t>(4 + n);
	uint16_t t = static_cast<uint16_t>(type | flags);
	size_t at = bytes.size();
	bytes.resize(at + ((len + 3) & ~3u), 0);
	std::memcpy(&bytes[at], &len, 2);
	std::memcpy(&bytes[at + 2], &t, 2);
	if (n)
		std::memcpy(&bytes[at + 4], p, n);
	return *this;
}

AttrBuilder &AttrBuilder::u32(uint16_t type, uint32_t v) {
	return raw(type, &v, 4);
}

AttrBuilder &AttrBuilder::str(uint16_t type, const std::string &s) {
	return raw(type, s.c_str(), s.size() + 1);
}

} // namespace fake

using fake::Kernel;

static fake::Sock *S(tlsup_ksock *sk) {
	return reinterpret_cast<fake::Sock *>(sk);
}
static fake::File *F(tlsup_kfile *f) {
	return reinterpret_cast<fake::File *>(f);
}
static fake::Net *N(tlsup_knet *n) {
	return reinterpret_cast<fake::Net *>(n);
}
static fake::Reply *R(tlsup_nl_reply *r) {
	return reinterpret_cast<fake::Reply *>(r);
}

extern "C" {

const unsigned int tlsup_gfp_kernel = 0xcc0;

void *tlsup_shim_alloc(unsigned long size, unsigned int) {
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

tlsup_lock *tlsup_shim_lock_create(tlsup_lock_class, unsigned int) {
	return reinterpret_cast<tlsup_lock *>(new std::mutex());
}

void tlsup_shim_lock_destroy(tlsup_lock *lock) {
	delete reinterpret_cast<std::mutex *>(lock);
}

void tlsup_shim_lock(tlsup_lock *lock) {
	reinterpret_cast<std::mutex *>(lock)->lock();
}

void tlsup_shim_unlock(tlsup_lock *lock) {
	reinterpret_cast<std::mutex *>(lock)->unlock();
}

unsigned long long tlsup_shim_now_ms(void) {
	return Kernel::get().now_ms.load();
}

unsigned int tlsup_shim_max_pending(void) {
	return Kernel::get().max_pending.load();
}

bool tlsup_shim_module_get(void) {
	auto &k = Kernel::get();
	if (k.module_get_fails)
		return false;
	k.module_refs++;
	return true;
}

void tlsup_shim_module_put(void) {
	Kernel::get().module_refs--;
}

tlsup_net *tlsup_shim_net_of(tlsup_ksock *sk) {
	return S(sk)->net ? S(sk)->net->core : nullptr;
}

bool tlsup_shim_has_listeners(tlsup_knet *knet, unsigned int) {
	return N(knet)->listeners.load() > 0;
}

int tlsup_shim_notify_ready(tlsup_knet *knet, unsigned int, unsigned int) {
	fake::Net *n = N(knet);
	if (n->on_notify)
		n->on_notify();
	int r = n->notify_result.load();
	if (r == 0)
		n->ready_sent++;
	return r;
}

void tlsup_shim_reaper_arm(tlsup_knet *knet, unsigned long long delay_ms) {
	N(knet)->reaper_delay_ms = static_cast<long long>(delay_ms);
	N(knet)->reaper_arms++;
}

void tlsup_shim_reaper_cancel_sync(tlsup_knet *knet) {
	N(knet)->reaper_delay_ms = -1;
	N(knet)->reaper_cancels++;
}

void tlsup_shim_sock_hold(tlsup_ksock *sk) {
	S(sk)->refs++;
}

void tlsup_shim_sock_put(tlsup_ksock *sk) {
	Kernel::get().sock_put(S(sk));
}

void tlsup_shim_file_get(tlsup_kfile *file) {
	F(file)->refs++;
}

void tlsup_shim_file_put(tlsup_kfile *file) {
	Kernel::get().fput(F(file));
}

void *tlsup_shim_sk_hook_destruct(tlsup_ksock *sk) {
	return S(sk)->destruct.exchange(reinterpret_cast<void *>(&fake::hook_marker));
}

void tlsup_shim_sk_restore_destruct(tlsup_ksock *sk, void *orig) {
	S(sk)->destruct = orig;
}

int tlsup_shim_fd_reserve(void) {
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
	auto &k = Kernel::get();
	std::lock_guard g(k.mu);
	k.reserved_.erase(fd);
}

void tlsup_shim_fd_install(int fd, tlsup_kfile *file) {
	auto &k = Kernel::get();
	std::lock_guard g(k.mu);
	k.reserved_.erase(fd);
	k.fds_[fd] = F(file);
}

int tlsup_shim_keyring_link(int keyring) {
	auto &k = Kernel::get();
	if (k.keyring_link_result < 0)
		return k.keyring_link_result;
	std::lock_guard g(k.mu);
	k.linked_keyrings.push_back(keyring);
	return 0;
}

tlsup_ksocket *tlsup_shim_sockfd_get(int fd, tlsup_ksock **sk, int *err) {
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
	Kernel::get().fput(reinterpret_cast<fake::File *>(sock));
}

void tlsup_shim_trace(tlsup_trace_event ev, tlsup_ksock *sk, unsigned long long req_id, int arg) {
	auto &k = Kernel::get();
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

static int reply_put(fake::Reply *r, uint16_t type, const void *p, size_t n, uint16_t flags = 0) {
	if (r->fail_put_after >= 0 && r->puts++ >= r->fail_put_after)
		return -EMSGSIZE;
	fake::AttrBuilder b;
	b.bytes.swap(r->bytes);
	b.raw(type, p, n, flags);
	b.bytes.swap(r->bytes);
	return 0;
}

int tlsup_nl_reply_begin(tlsup_nl_reply *reply) {
	R(reply)->begun = true;
	return 0;
}

int tlsup_nl_put_u32(tlsup_nl_reply *reply, unsigned int type, unsigned int value) {
	return reply_put(R(reply), static_cast<uint16_t>(type), &value, 4);
}

int tlsup_nl_put_s32(tlsup_nl_reply *reply, unsigned int type, int value) {
	return reply_put(R(reply), static_cast<uint16_t>(type), &value, 4);
}

int tlsup_nl_put_string(tlsup_nl_reply *reply, unsigned int type, const char *value) {
	return reply_put(R(reply), static_cast<uint16_t>(type), value, std::strlen(value) + 1);
}

int tlsup_nl_nest_start(tlsup_nl_reply *reply, unsigned int type) {
	fake::Reply *r = R(reply);
	size_t at = r->bytes.size();
	int ret = reply_put(r, static_cast<uint16_t>(type), nullptr, 0, 0x8000);
	if (ret == 0)
		r->nests.push_back(at);
	return ret;
}

void tlsup_nl_nest_end(tlsup_nl_reply *reply) {
	fake::Reply *r = R(reply);
	size_t at = r->nests.back();
	r->nests.pop_back();
	uint16_t len = static_cast<uint16_t>(r->bytes.size() - at);
	std::memcpy(&r->bytes[at], &len, 2);
}

int tlsup_nl_reply_send(tlsup_nl_reply *reply) {
	R(reply)->sent = true;
	return R(reply)->send_result;
}

void tlsup_nl_reply_abort(tlsup_nl_reply *reply) {
	R(reply)->aborted = true;
}

} // extern "C"
