// SPDX-License-Identifier: GPL-2.0
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "result.hpp"

namespace tlsup {

// An allocator that wipes memory before giving it back, so that a buffer a
// vector outgrows leaves no copy of a secret behind. BASE does the
// allocating (tests substitute one that inspects what comes back).
template <class T, class Base = std::allocator<T>>
struct WipingAllocator : Base {
	using value_type = T;
	template <class U>
	struct rebind {
		using other = WipingAllocator<
		        U, typename std::allocator_traits<Base>::template rebind_alloc<U>>;
	};
	WipingAllocator() = default;
	template <class U, class B>
	WipingAllocator(const WipingAllocator<U, B> &) {}
	T *allocate(size_t n) { return Base::allocate(n); }
	void deallocate(T *p, size_t n) {
		explicit_bzero(p, n * sizeof(T));
		Base::deallocate(p, n);
	}
	friend bool operator==(const WipingAllocator &, const WipingAllocator &) { return true; }
};

// Key material: wiped before the memory goes back to the allocator (also
// when it grows), never copied implicitly, never formatted into a log line.
class SecretBytes {
public:
	using Buffer = std::vector<uint8_t, WipingAllocator<uint8_t>>;

	SecretBytes() = default;
	explicit SecretBytes(std::span<const uint8_t> data) : bytes_(data.begin(), data.end()) {}
	SecretBytes(SecretBytes &&o) noexcept : bytes_(std::move(o.bytes_)) {}
	SecretBytes &operator=(SecretBytes &&o) noexcept {
		wipe();
		bytes_ = std::move(o.bytes_);
		return *this;
	}
	SecretBytes(const SecretBytes &) = delete;
	SecretBytes &operator=(const SecretBytes &) = delete;
	~SecretBytes() { wipe(); }

	const uint8_t *data() const { return bytes_.data(); }
	uint8_t *data() { return bytes_.data(); }
	size_t size() const { return bytes_.size(); }
	bool empty() const { return bytes_.empty(); }
	std::span<const uint8_t> span() const { return {bytes_.data(), bytes_.size()}; }
	// Grows or shrinks (zero-filled); the old buffer, if any, is wiped.
	void resize(size_t n) { bytes_.resize(n); }

private:
	void wipe() {
		if (!bytes_.empty())
			explicit_bzero(bytes_.data(), bytes_.size());
		bytes_.clear();
	}
	Buffer bytes_;
};

// The rest of FD (a file that holds key material, NAME in messages), read
// straight into wiped memory: no intermediate string, no stack buffer.
// EINVAL above MAX bytes. Opening such a file: read_secret_file
// (configured_file.hpp).
Result<SecretBytes> read_secret_fd(int fd, const std::string &name, size_t max);

} // namespace tlsup
