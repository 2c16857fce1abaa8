// SPDX-License-Identifier: GPL-2.0
// A view of contiguous objects; bounds are the caller's promise, indexing is
// checked only by the caller (the codec checks lengths before it indexes).
#pragma once

#include "types.hpp"

namespace kstd {

template <typename T>
class Span {
public:
	constexpr Span() = default;
	constexpr Span(T *data, usize size) : data_(data), size_(size) {}
	template <usize N>
	constexpr Span(T (&arr)[N]) : data_(arr), size_(N) {}

	constexpr T *data() const { return data_; }
	constexpr usize size() const { return size_; }
	constexpr bool empty() const { return size_ == 0; }
	constexpr T &operator[](usize i) const { return data_[i]; }
	constexpr T *begin() const { return data_; }
	constexpr T *end() const { return data_ + size_; }
	constexpr Span subspan(usize off) const {
		return off >= size_ ? Span() : Span(data_ + off, size_ - off);
	}
	constexpr Span subspan(usize off, usize len) const {
		if (off >= size_)
			return Span();
		return Span(data_ + off, len < size_ - off ? len : size_ - off);
	}

private:
	T *data_ = nullptr;
	usize size_ = 0;
};

using Bytes = Span<const u8>;

} // namespace kstd
