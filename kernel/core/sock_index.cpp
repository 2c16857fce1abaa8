// SPDX-License-Identifier: GPL-2.0
#include "sock_index.hpp"

#include "../kstd/errno.hpp"

namespace tlsup {

SockIndex *SockIndex::create() {
	// 4096 chains: 64 KiB, allocated once at module load (kvmalloc).
	SockIndex *ix = new (kstd::Gfp{tlsup_gfp_kernel}) SockIndex();
	if (!ix)
		return nullptr;
	if (!ix->lock_.init(TLSUP_LOCK_INDEX, tlsup_gfp_kernel)) {
		kstd::destroy(ix);
		return nullptr;
	}
	return ix;
}

void SockIndex::destroy() {
	kstd::destroy(this);
}

kstd::usize SockIndex::bucket(const tlsup_ksock *sk) {
	// struct sock is cache-line aligned: drop the low bits, then mix.
	const kstd::u64 h = (reinterpret_cast<kstd::uptr>(sk) >> 6) * 0x9E3779B97F4A7C15ull;
	return static_cast<kstd::usize>(h >> 52) & (kBuckets - 1);
}

Request *SockIndex::find_locked(tlsup_ksock *sk) {
	lock_.assert_held();
	for (Request &r : chains_[bucket(sk)])
		if (r.sk() == sk)
			return &r;
	return nullptr;
}

bool SockIndex::contains_locked(tlsup_ksock *sk) {
	return find_locked(sk) != nullptr;
}

void SockIndex::insert_locked(Request &req) {
	lock_.assert_held();
	chains_[bucket(req.sk())].push_back(req);
	count_++;
}

void SockIndex::remove_locked(Request &req) {
	lock_.assert_held();
	req.index_link.unlink();
	count_--;
}

RequestRef SockIndex::lookup(tlsup_ksock *sk) {
	LockGuard g(lock_);
	Request *r = find_locked(sk);
	if (!r)
		return {};
	r->get();
	return RequestRef::adopt(r);
}

Request *SockIndex::remove(tlsup_ksock *sk) {
	LockGuard g(lock_);
	Request *r = find_locked(sk);
	if (r) {
		r->index_link.unlink();
		count_--;
	}
	return r;
}

bool SockIndex::empty() {
	LockGuard g(lock_);
	return count_ == 0;
}

} // namespace tlsup
