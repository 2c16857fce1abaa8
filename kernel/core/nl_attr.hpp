// SPDX-License-Identifier: GPL-2.0
// Reader for netlink attribute streams (struct nlattr TLVs): 16-bit length
// including the 4-byte header, 16-bit type with two flag bits, payloads
// padded to 4 bytes. Never reads outside the given bytes; a malformed
// attribute stops the walk and is reported, it is never skipped.
#pragma once

#include "../kstd/span.hpp"
#include "../kstd/types.hpp"

namespace tlsup::nl {

using kstd::Bytes;
using kstd::u16;
using kstd::u32;
using kstd::usize;

inline constexpr usize kHeaderLen = 4;
inline constexpr u16 kTypeMask = 0x3fff; // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
inline constexpr u16 kFlagNested = 0x8000;

constexpr usize align4(usize n) {
	return (n + 3) & ~static_cast<usize>(3);
}

struct Attr {
	u16 type; // flags stripped
	bool nested;
	Bytes payload;

	bool is_u32() const { return payload.size() == 4; }
	u32 as_u32() const {
		u32 v;
		__builtin_memcpy(&v, payload.data(), 4);
		return v;
	}
	kstd::s32 as_s32() const { return static_cast<kstd::s32>(as_u32()); }
	// A string attribute: NUL-terminated within its payload.
	bool is_cstring() const { return !payload.empty() && payload[payload.size() - 1] == 0; }
};

class AttrReader {
public:
	explicit AttrReader(Bytes stream) : rest_(stream) {}

	// Next attribute, or false at the end or on a malformed one (see ok()).
	bool next(Attr &out) {
		if (rest_.size() < kHeaderLen) {
			// Fewer than 4 trailing bytes are padding, as nla_ok() treats them.
			rest_ = Bytes();
			return false;
		}
		u16 len, type;
		__builtin_memcpy(&len, rest_.data(), 2);
		__builtin_memcpy(&type, rest_.data() + 2, 2);
		if (len < kHeaderLen || len > rest_.size()) {
			malformed_ = true;
			rest_ = Bytes();
			return false;
		}
		out.type = type & kTypeMask;
		out.nested = (type & kFlagNested) != 0;
		out.payload = rest_.subspan(kHeaderLen, len - kHeaderLen);
		rest_ = rest_.subspan(align4(len));
		return true;
	}

	bool ok() const { return !malformed_; }

private:
	Bytes rest_;
	bool malformed_ = false;
};

} // namespace tlsup::nl
