// SPDX-License-Identifier: GPL-2.0
//
// Errors as values: a positive errno (the DONE status vocabulary) and a
// reason for the log. No exception leaves a tlsupd function.
#pragma once

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <utility>
#include <variant>

namespace tlsup {

struct Error {
	int code = EIO; // positive errno
	std::string reason;
};

// printf-style constructor; the reason never carries key material.
[[gnu::format(printf, 2, 3)]] inline Error make_error(int code, const char *fmt, ...) {
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return Error{code, buf};
}

template <class T>
class [[nodiscard]] Result {
public:
	Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
	Result(Error err) : v_(std::in_place_index<1>, std::move(err)) {}

	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }

	T &value() & { return std::get<0>(v_); }
	const T &value() const & { return std::get<0>(v_); }
	T &&value() && { return std::get<0>(std::move(v_)); }
	T *operator->() { return &std::get<0>(v_); }
	const T *operator->() const { return &std::get<0>(v_); }
	T &operator*() { return std::get<0>(v_); }

	const Error &error() const & { return std::get<1>(v_); }
	Error &&error() && { return std::get<1>(std::move(v_)); }

private:
	std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
	Result() = default;
	Result(Error err) : err_(std::move(err)), failed_(true) {}

	bool ok() const { return !failed_; }
	explicit operator bool() const { return ok(); }
	void value() const {}

	const Error &error() const & { return err_; }
	Error &&error() && { return std::move(err_); }

private:
	Error err_;
	bool failed_ = false;
};

// Propagate an error, otherwise yield the value (a GNU statement expression,
// as in the kernel build).
#define TRY(expr)                                                                                  \
	({                                                                                         \
		auto &&try_result_ = (expr);                                                       \
		if (!try_result_.ok())                                                             \
			return std::move(try_result_).error();                                     \
		std::move(try_result_).value();                                                    \
	})

} // namespace tlsup
