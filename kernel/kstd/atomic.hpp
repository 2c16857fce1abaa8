// SPDX-License-Identifier: GPL-2.0
// Atomics on the compiler's __atomic built-ins. On the architectures tlsup
// supports they compile to plain instructions (no libatomic calls): the
// symbol allow-list check would catch a call.
#pragma once

#include "types.hpp"

namespace kstd {

template <typename T>
class Atomic {
public:
	constexpr Atomic() = default;
	constexpr explicit Atomic(T v) : v_(v) {}
	Atomic(const Atomic &) = delete;
	Atomic &operator=(const Atomic &) = delete;

	T load() const { return __atomic_load_n(&v_, __ATOMIC_ACQUIRE); }
	T load_relaxed() const { return __atomic_load_n(&v_, __ATOMIC_RELAXED); }
	void store(T v) { __atomic_store_n(&v_, v, __ATOMIC_RELEASE); }
	T exchange(T v) { return __atomic_exchange_n(&v_, v, __ATOMIC_ACQ_REL); }
	bool compare_exchange(T &expected, T desired) {
		return __atomic_compare_exchange_n(&v_, &expected, desired, false, __ATOMIC_ACQ_REL,
		                                   __ATOMIC_ACQUIRE);
	}
	T fetch_add(T d) { return __atomic_fetch_add(&v_, d, __ATOMIC_ACQ_REL); }
	T fetch_sub(T d) { return __atomic_fetch_sub(&v_, d, __ATOMIC_ACQ_REL); }
	T fetch_or(T bits) { return __atomic_fetch_or(&v_, bits, __ATOMIC_ACQ_REL); }
	T fetch_and(T bits) { return __atomic_fetch_and(&v_, bits, __ATOMIC_ACQ_REL); }

private:
	T v_{};
};

// Reference count that reports the final put; the owner frees on true.
class RefCount {
public:
	constexpr explicit RefCount(u32 initial) : count_(initial) {}
	void get() { count_.fetch_add(1); }
	[[nodiscard]] bool put() { return count_.fetch_sub(1) == 1; }
	u32 read() const { return count_.load(); }

private:
	Atomic<u32> count_;
};

} // namespace kstd
