// SPDX-License-Identifier: GPL-2.0
// A bottom-half-safe spinlock owned by the shim, and its scope guard.
#pragma once

#include <tlsup/core.h>

#include "../kstd/errno.hpp"
#include "../kstd/expected.hpp"
#include "../kstd/utility.hpp"

namespace tlsup {

class SpinLock {
public:
	SpinLock() = default;
	SpinLock(const SpinLock &) = delete;
	SpinLock &operator=(const SpinLock &) = delete;
	~SpinLock() {
		if (lock_)
			tlsup_shim_lock_destroy(lock_);
	}

	kstd::Expected<void> init(tlsup_lock_class cls, unsigned int gfp) {
		lock_ = tlsup_shim_lock_create(cls, gfp);
		if (!lock_)
			return kstd::Error(kstd::err::enomem);
		return {};
	}
	void lock() { tlsup_shim_lock(lock_); }
	void unlock() { tlsup_shim_unlock(lock_); }
	// Functions named *_locked say so on entry (lockdep_assert_held).
	void assert_held() const { tlsup_shim_lock_assert_held(lock_); }

private:
	tlsup_lock *lock_ = nullptr;
};

class [[nodiscard]] LockGuard {
public:
	explicit LockGuard(SpinLock &l) : l_(l) { l_.lock(); }
	LockGuard(const LockGuard &) = delete;
	LockGuard &operator=(const LockGuard &) = delete;
	~LockGuard() { l_.unlock(); }

private:
	SpinLock &l_;
};

} // namespace tlsup
