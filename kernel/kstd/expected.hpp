// SPDX-License-Identifier: GPL-2.0
// Errors are values: Expected<T> holds a T or a positive errno. TRY(expr)
// returns the error from the enclosing function, else yields the value.
#pragma once

#include "new.hpp"
#include "utility.hpp"

namespace kstd {

class Error {
public:
	// errno > 0, as in <errno.h>; to_kernel() gives the negative form.
	constexpr explicit Error(int errno_value) : errno_(errno_value) {}
	constexpr int code() const { return errno_; }
	constexpr int to_kernel() const { return -errno_; }

private:
	int errno_;
};

template <typename T>
class [[nodiscard]] Expected {
public:
	Expected(const T &v) : ok_(true) { new (&storage_) T(v); }
	Expected(T &&v) : ok_(true) { new (&storage_) T(move(v)); }
	constexpr Expected(Error e) : ok_(false), error_(e) {}
	Expected(const Expected &) = delete;
	Expected &operator=(const Expected &) = delete;
	Expected(Expected &&o) noexcept : ok_(o.ok_), error_(o.error_) {
		if (ok_)
			new (&storage_) T(move(o.value()));
	}
	~Expected() {
		if (ok_)
			value().~T();
	}

	constexpr bool has_value() const { return ok_; }
	constexpr explicit operator bool() const { return ok_; }
	T &value() { return *reinterpret_cast<T *>(&storage_); }
	const T &value() const { return *reinterpret_cast<const T *>(&storage_); }
	T *operator->() { return &value(); }
	T &operator*() { return value(); }
	constexpr Error error() const { return error_; }
	T release_value() { return move(value()); }

private:
	bool ok_;
	Error error_ = Error(0);
	alignas(T) unsigned char storage_[sizeof(T)];
};

template <>
class [[nodiscard]] Expected<void> {
public:
	constexpr Expected() = default;
	constexpr Expected(Error e) : ok_(false), error_(e) {}

	constexpr bool has_value() const { return ok_; }
	constexpr explicit operator bool() const { return ok_; }
	constexpr Error error() const { return error_; }
	void release_value() {}

private:
	bool ok_ = true;
	Error error_ = Error(0);
};

// 0 on success, else the negative errno: the form kernel callers expect.
template <typename T>
constexpr int to_kernel_status(const Expected<T> &e) {
	return e.has_value() ? 0 : e.error().to_kernel();
}

} // namespace kstd

// GNU statement expression (as the kernel's own macros use): evaluates to the
// value, or returns the error from the calling function.
#define TRY(expr)                                                                                  \
	({                                                                                         \
		auto _try_result = (expr);                                                         \
		if (!_try_result.has_value())                                                      \
			return _try_result.error();                                                \
		_try_result.release_value();                                                       \
	})
