// SPDX-License-Identifier: GPL-2.0
// libFuzzer: the core's netlink attribute decoding (ACCEPT and DONE
// requests, and the raw attribute walk) on arbitrary bytes. The decoders
// must never read outside the input and must agree with the walk about
// malformed input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/messages.hpp"
#include "core/nl_attr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	kstd::Bytes in(data, size);

	tlsup::nl::AttrReader rd(in);
	tlsup::nl::Attr a;
	size_t seen = 0;
	while (rd.next(a)) {
		// The payload lies inside the input.
		if (a.payload.size() &&
		    (a.payload.data() < data || a.payload.data() + a.payload.size() > data + size))
			abort();
		seen += 4 + a.payload.size();
	}
	if (seen > size)
		abort();

	auto accept = tlsup::decode_accept_request(in);
	if (accept && accept->handler_class > 2)
		abort();
	auto done = tlsup::decode_done_request(in);
	if (done) {
		if (done->has_status && done->status > 4095)
			abort();
		if (done->kept_remote() > TLSUP_MAX_PEERIDS)
			abort();
		// A malformed stream is never accepted.
		if (!rd.ok())
			abort();
	}
	return 0;
}
