// SPDX-License-Identifier: GPL-2.0
//
// The never-read-past-the-handshake guarantee. GnuTLS asks its transport
// for as many bytes as it wants; the guard bounds every read so it never
// crosses the end of the TLS record being read. The engine stops reading
// after the peer's Finished, so whatever the peer sent behind it -- data,
// NewSessionTicket, alerts -- stays in the socket for kTLS.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tlsup {

class RecordBoundaryGuard {
public:
	static constexpr size_t kHeaderSize = 5;

	// The most a read may ask for now, given GnuTLS wants WANT bytes:
	// the rest of the current record header, or of its body. Never 0.
	size_t limit(size_t want) const {
		size_t allowed = body_left_ > 0 ? body_left_ : kHeaderSize - header_have_;
		return want < allowed ? want : allowed;
	}

	// N bytes (N <= limit()) arrived in BUF: a header is tracked until it
	// is whole, then its length field says how much body follows.
	void consumed(const uint8_t *buf, size_t n);

	// At a record boundary: nothing of a record read but not finished.
	bool at_boundary() const { return header_have_ == 0 && body_left_ == 0; }

private:
	uint8_t header_[kHeaderSize] = {};
	size_t header_have_ = 0;
	size_t body_left_ = 0;
};

} // namespace tlsup
