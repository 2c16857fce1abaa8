// SPDX-License-Identifier: GPL-2.0
// sock -> request, one to one, for every request from submit until its
// socket is destroyed. A fixed table of intrusive chains under one
// bottom-half-safe lock; lookups return a referenced request.
#pragma once

#include <tlsup/core.h>

#include "../kstd/expected.hpp"
#include "../kstd/list.hpp"
#include "lock.hpp"
#include "request.hpp"

namespace tlsup {

class SockIndex {
public:
	static SockIndex *create();
	void destroy();

	// Publishing takes this lock, then the request's Pernet lock.
	SpinLock &lock() { return lock_; }
	bool contains_locked(tlsup_ksock *sk);
	// Adds @req with the reference the caller gives the index.
	void insert_locked(Request &req);
	// Unlinks @req (submit's failure path); the caller drops the reference.
	void remove_locked(Request &req);

	// The request of @sk with a reference taken, or nothing.
	RequestRef lookup(tlsup_ksock *sk);
	// Unlinks and returns the request of @sk (the index's reference moves
	// to the caller), or nullptr.
	Request *remove(tlsup_ksock *sk);

	bool empty();

private:
	static constexpr kstd::usize kBuckets = 4096;
	using Chain = KSTD_LIST(Request, index_link);

	SockIndex() = default;
	~SockIndex() = default;
	friend void kstd::destroy<SockIndex>(SockIndex *);

	static kstd::usize bucket(const tlsup_ksock *sk);
	Request *find_locked(tlsup_ksock *sk);

	SpinLock lock_;
	Chain chains_[kBuckets];
	kstd::usize count_ = 0;
};

} // namespace tlsup
