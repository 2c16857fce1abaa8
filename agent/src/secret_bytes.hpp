// SPDX-License-Identifier: GPL-2.0
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace tlsup {

// Key material: wiped before the memory goes back to the allocator, never
// copied implicitly, never formatted into a log line.
class SecretBytes {
public:
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
	std::span<const uint8_t> span() const { return bytes_; }

private:
	void wipe() {
		if (!bytes_.empty())
			explicit_bzero(bytes_.data(), bytes_.size());
		bytes_.clear();
	}
	std::vector<uint8_t> bytes_;
};

} // namespace tlsup
