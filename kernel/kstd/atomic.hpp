// SPDX-License-Identifier: GPL-2.0
// Atomics on the compiler's __atomic built-ins. On the architectures tlsup
// supports they compile to plain instructions (no libatomic calls): the
// symbol allow-list check would catch a call.
#pragma once

#include "types.hpp"

extern "C" void tlsup_shim_warn(const char *why);

// The host tests' interleaving explorer switches coroutines at every atomic
// operation (the claim's compare-and-swap, reference counts): the hosted
// build reports each one, with the function that performed it. The kernel
// build compiles to the bare built-ins.
#if defined(TLSUP_HOSTED)
extern "C" void tlsup_host_atomic_point(const char *op, const char *caller);
#define KSTD_AT_ONLY const char *at_ = __builtin_FUNCTION()
#define KSTD_AT , KSTD_AT_ONLY
#define KSTD_ATOMIC_POINT(op) tlsup_host_atomic_point(op, at_)
#else
#define KSTD_AT_ONLY
#define KSTD_AT
#define KSTD_ATOMIC_POINT(op) ((void)0)
#endif

namespace kstd {

template <typename T>
class Atomic {
public:
	constexpr Atomic() = default;
	constexpr explicit Atomic(T v) : v_(v) {}
	Atomic(const Atomic &) = delete;
	Atomic &operator=(const Atomic &) = delete;

	T load(KSTD_AT_ONLY) const {
		KSTD_ATOMIC_POINT("load");
		return __atomic_load_n(&v_, __ATOMIC_ACQUIRE);
	}
	T load_relaxed(KSTD_AT_ONLY) const {
		KSTD_ATOMIC_POINT("load");
		return __atomic_load_n(&v_, __ATOMIC_RELAXED);
	}
	void store(T v KSTD_AT) {
		KSTD_ATOMIC_POINT("store");
		__atomic_store_n(&v_, v, __ATOMIC_RELEASE);
	}
	T exchange(T v KSTD_AT) {
		KSTD_ATOMIC_POINT("exchange");
		return __atomic_exchange_n(&v_, v, __ATOMIC_ACQ_REL);
	}
	bool compare_exchange(T &expected, T desired KSTD_AT) {
		KSTD_ATOMIC_POINT("compare_exchange");
		return __atomic_compare_exchange_n(&v_, &expected, desired, false, __ATOMIC_ACQ_REL,
		                                   __ATOMIC_ACQUIRE);
	}
	T fetch_add(T d KSTD_AT) {
		KSTD_ATOMIC_POINT("fetch_add");
		return __atomic_fetch_add(&v_, d, __ATOMIC_ACQ_REL);
	}
	T fetch_sub(T d KSTD_AT) {
		KSTD_ATOMIC_POINT("fetch_sub");
		return __atomic_fetch_sub(&v_, d, __ATOMIC_ACQ_REL);
	}
	T fetch_or(T bits KSTD_AT) {
		KSTD_ATOMIC_POINT("fetch_or");
		return __atomic_fetch_or(&v_, bits, __ATOMIC_ACQ_REL);
	}
	T fetch_and(T bits KSTD_AT) {
		KSTD_ATOMIC_POINT("fetch_and");
		return __atomic_fetch_and(&v_, bits, __ATOMIC_ACQ_REL);
	}

private:
	T v_{};
};

// Reference count with refcount_t's rules: the final put reports true (the
// owner frees); an increment from 0, an overflow or an underflow warns and
// saturates the count, so the object leaks instead of being freed twice.
class RefCount {
public:
	// refcount_t's REFCOUNT_SATURATED: far from 0 and from overflowing.
	static constexpr s32 kSaturated = static_cast<s32>(0xc0000000u);

	constexpr explicit RefCount(u32 initial) : count_(static_cast<s32>(initial)) {}
	void get() {
		const s32 old = count_.fetch_add(1);
		if (old == 0)
			saturate("tlsup: refcount increment on 0; use-after-free");
		else if (old == 0x7fffffff)
			saturate("tlsup: refcount overflow");
		else if (old < 0)
			count_.store(kSaturated); // stays saturated, warned once already
	}
	[[nodiscard]] bool put() {
		const s32 old = count_.fetch_sub(1);
		if (old == 1)
			return true;
		if (old == 0)
			saturate("tlsup: refcount underflow; use-after-free");
		else if (old < 0)
			count_.store(kSaturated);
		return false;
	}
	s32 read() const { return count_.load(); }

private:
	void saturate(const char *why);

	Atomic<s32> count_;
};

inline void RefCount::saturate(const char *why) {
	count_.store(kSaturated);
	tlsup_shim_warn(why);
}

} // namespace kstd
