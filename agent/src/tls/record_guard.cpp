// SPDX-License-Identifier: GPL-2.0
#include "record_guard.hpp"

#include <cstring>

namespace tlsup {

void RecordBoundaryGuard::consumed(const uint8_t *buf, size_t n) {
	if (body_left_ > 0) {
		body_left_ -= n < body_left_ ? n : body_left_;
		return;
	}
	size_t take = n < kHeaderSize - header_have_ ? n : kHeaderSize - header_have_;
	std::memcpy(header_ + header_have_, buf, take);
	header_have_ += take;
	if (header_have_ == kHeaderSize) {
		body_left_ = (static_cast<size_t>(header_[3]) << 8) | header_[4];
		header_have_ = 0;
	}
}

} // namespace tlsup
