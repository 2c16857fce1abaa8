// SPDX-License-Identifier: GPL-2.0
// One counted reference to an object with get()/put(): dropped when the
// holder goes out of scope, unless release()d to a new owner.
#pragma once

#include "utility.hpp"

namespace kstd {

template <typename T>
class RefPtr {
public:
	constexpr RefPtr() = default;
	// Adopts a reference the caller already holds.
	static RefPtr adopt(T *p) { return RefPtr(p); }

	RefPtr(const RefPtr &) = delete;
	RefPtr &operator=(const RefPtr &) = delete;
	RefPtr(RefPtr &&o) noexcept : p_(o.release()) {}
	RefPtr &operator=(RefPtr &&o) noexcept {
		reset(o.release());
		return *this;
	}
	~RefPtr() { reset(); }

	T *get() const { return p_; }
	T *operator->() const { return p_; }
	T &operator*() const { return *p_; }
	explicit operator bool() const { return p_ != nullptr; }

	// Hands the reference to someone else.
	[[nodiscard]] T *release() { return exchange(p_, nullptr); }
	void reset(T *p = nullptr) {
		if (T *old = exchange(p_, p))
			old->put();
	}

private:
	explicit RefPtr(T *p) : p_(p) {}

	T *p_ = nullptr;
};

} // namespace kstd
