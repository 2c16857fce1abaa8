// SPDX-License-Identifier: GPL-2.0
#include "record_size_limit.hpp"

namespace tlsup {

namespace {

constexpr unsigned kRecordSizeLimit = 28; // RFC 8449's extension type

int on_extension(void *ctx, unsigned type, const unsigned char *data, unsigned size) {
	auto *out = static_cast<std::optional<size_t> *>(ctx);
	if (type != kRecordSizeLimit)
		return 0;
	if (size != 2) {
		out->reset();
		return GNUTLS_E_UNEXPECTED_PACKET_LENGTH;
	}
	*out = (static_cast<size_t>(data[0]) << 8) | data[1];
	return 0;
}

} // namespace

std::optional<size_t> parse_record_size_limit(const gnutls_datum_t &msg, bool client_hello) {
	std::optional<size_t> out;
	if (!msg.data || msg.size == 0)
		return out;
	int ret = gnutls_ext_raw_parse(&out, on_extension, &msg,
	                               client_hello ? GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO : 0);
	if (ret < 0)
		return std::nullopt;
	return out;
}

std::optional<size_t> tls13_max_payload(size_t limit) {
	if (limit < 64 || limit > 16384)
		return std::nullopt;
	return limit - 1;
}

} // namespace tlsup
