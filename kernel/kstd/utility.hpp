// SPDX-License-Identifier: GPL-2.0
// move/forward and the few type traits the core needs, built on compiler
// built-ins so that no libstdc++ header is needed.
#pragma once

#include "types.hpp"

namespace kstd {

template <typename T>
struct remove_reference {
	using type = T;
};
template <typename T>
struct remove_reference<T &> {
	using type = T;
};
template <typename T>
struct remove_reference<T &&> {
	using type = T;
};
template <typename T>
using remove_reference_t = typename remove_reference<T>::type;

template <typename T>
constexpr remove_reference_t<T> &&move(T &&v) noexcept {
	return static_cast<remove_reference_t<T> &&>(v);
}

template <typename T>
constexpr T &&forward(remove_reference_t<T> &v) noexcept {
	return static_cast<T &&>(v);
}

template <typename T>
constexpr T &&forward(remove_reference_t<T> &&v) noexcept {
	return static_cast<T &&>(v);
}

template <typename T, typename U = T>
constexpr T exchange(T &obj, U &&v) {
	T old = move(obj);
	obj = forward<U>(v);
	return old;
}

template <typename A, typename B>
inline constexpr bool is_same_v = __is_same(A, B);

template <typename T>
inline constexpr bool is_trivially_destructible_v = __has_trivial_destructor(T);

template <typename T>
inline constexpr bool is_trivially_copyable_v = __is_trivially_copyable(T);

template <typename T>
constexpr const T &min(const T &a, const T &b) {
	return b < a ? b : a;
}

template <typename T>
constexpr const T &max(const T &a, const T &b) {
	return a < b ? b : a;
}

template <typename T, usize N>
constexpr usize size(const T (&)[N]) {
	return N;
}

// offsetof for standard-layout types, without <stddef.h>.
#define KSTD_OFFSETOF(type, member) __builtin_offsetof(type, member)

} // namespace kstd
