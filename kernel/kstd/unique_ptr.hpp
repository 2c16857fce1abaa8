// SPDX-License-Identifier: GPL-2.0
// Single owner of an object allocated with new (Gfp{...}); frees through the
// shim allocator.
#pragma once

#include "new.hpp"
#include "utility.hpp"

namespace kstd {

template <typename T>
class UniquePtr {
public:
	constexpr UniquePtr() = default;
	explicit UniquePtr(T *p) : p_(p) {}
	UniquePtr(const UniquePtr &) = delete;
	UniquePtr &operator=(const UniquePtr &) = delete;
	UniquePtr(UniquePtr &&o) noexcept : p_(o.release()) {}
	UniquePtr &operator=(UniquePtr &&o) noexcept {
		reset(o.release());
		return *this;
	}
	~UniquePtr() { reset(); }

	T *get() const { return p_; }
	T *operator->() const { return p_; }
	T &operator*() const { return *p_; }
	explicit operator bool() const { return p_ != nullptr; }

	[[nodiscard]] T *release() { return exchange(p_, nullptr); }
	void reset(T *p = nullptr) { destroy(exchange(p_, p)); }

private:
	T *p_ = nullptr;
};

template <typename T, typename... Args>
UniquePtr<T> make_unique(Gfp gfp, Args &&...args) {
	return UniquePtr<T>(new (gfp) T(forward<Args>(args)...));
}

} // namespace kstd
