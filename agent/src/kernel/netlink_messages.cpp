// SPDX-License-Identifier: GPL-2.0
#include "netlink_messages.hpp"

#include <algorithm>
#include <cstring>
#include <linux/netlink.h>

#include <uapi/linux/handshake.h>

namespace tlsup {

namespace {

struct Attr {
	uint16_t type;
	std::span<const uint8_t> payload;
};

// Walks a netlink attribute stream; stops with an error at the first
// attribute whose length does not fit.
class AttrReader {
public:
	explicit AttrReader(std::span<const uint8_t> data) : data_(data) {}

	// false at the end or on damage (then error() says so).
	bool next(Attr &out) {
		if (data_.size() < NLA_HDRLEN)
			return false; // trailing padding is not an error
		nlattr hdr;
		std::memcpy(&hdr, data_.data(), sizeof(hdr));
		if (hdr.nla_len < NLA_HDRLEN || hdr.nla_len > data_.size()) {
			error_ =
			        make_error(EINVAL, "attribute type %u has bad length %u (%zu left)",
			                   hdr.nla_type & NLA_TYPE_MASK, hdr.nla_len, data_.size());
			return false;
		}
		out.type = hdr.nla_type & NLA_TYPE_MASK;
		out.payload = data_.subspan(NLA_HDRLEN, hdr.nla_len - NLA_HDRLEN);
		size_t step = NLA_ALIGN(hdr.nla_len);
		data_ = step >= data_.size() ? std::span<const uint8_t>() : data_.subspan(step);
		return true;
	}

	const std::optional<Error> &error() const { return error_; }

private:
	std::span<const uint8_t> data_;
	std::optional<Error> error_;
};

const char *accept_attr_name(uint16_t type) {
	switch (type) {
	case HANDSHAKE_A_ACCEPT_SOCKFD:
		return "SOCKFD";
	case HANDSHAKE_A_ACCEPT_MESSAGE_TYPE:
		return "MESSAGE_TYPE";
	case HANDSHAKE_A_ACCEPT_TIMEOUT:
		return "TIMEOUT";
	case HANDSHAKE_A_ACCEPT_AUTH_MODE:
		return "AUTH_MODE";
	case HANDSHAKE_A_ACCEPT_PEER_IDENTITY:
		return "PEER_IDENTITY";
	case HANDSHAKE_A_ACCEPT_CERTIFICATE:
		return "CERTIFICATE";
	case HANDSHAKE_A_ACCEPT_PEERNAME:
		return "PEERNAME";
	case HANDSHAKE_A_ACCEPT_KEYRING:
		return "KEYRING";
	default:
		return "?";
	}
}

Result<uint32_t> read_u32(const Attr &a, const char *name) {
	if (a.payload.size() < sizeof(uint32_t))
		return make_error(EINVAL, "attribute %s is %zu bytes, expected 4", name,
		                  a.payload.size());
	uint32_t v;
	std::memcpy(&v, a.payload.data(), sizeof(v));
	return v;
}

Result<CertificatePair> read_certificate(const Attr &nest) {
	CertificatePair pair;
	AttrReader inner(nest.payload);
	Attr a;
	while (inner.next(a)) {
		if (a.type == HANDSHAKE_A_X509_CERT)
			pair.cert = static_cast<int32_t>(TRY(read_u32(a, "CERTIFICATE.CERT")));
		else if (a.type == HANDSHAKE_A_X509_PRIVKEY)
			pair.privkey =
			        static_cast<int32_t>(TRY(read_u32(a, "CERTIFICATE.PRIVKEY")));
	}
	if (inner.error())
		return make_error(EINVAL, "CERTIFICATE nest: %s", inner.error()->reason.c_str());
	return pair;
}

Result<std::string> read_string(const Attr &a) {
	// NLA_NUL_STRING: the terminator must be inside the payload.
	const void *nul = std::memchr(a.payload.data(), '\0', a.payload.size());
	if (!nul)
		return make_error(EINVAL, "attribute PEERNAME is not NUL-terminated");
	size_t len = static_cast<const uint8_t *>(nul) - a.payload.data();
	if (len > kMaxPeernameLength)
		return make_error(EINVAL, "attribute PEERNAME is %zu bytes, limit %zu", len,
		                  kMaxPeernameLength);
	return std::string(reinterpret_cast<const char *>(a.payload.data()), len);
}

Result<void> apply_attr(AcceptReply &req, const Attr &a) {
	const char *name = accept_attr_name(a.type);
	switch (a.type) {
	case HANDSHAKE_A_ACCEPT_SOCKFD: {
		auto fd = static_cast<int32_t>(TRY(read_u32(a, name)));
		if (req.sockfd >= 0)
			return make_error(EINVAL, "SOCKFD repeated (%d, then %d)", req.sockfd, fd);
		if (fd < 0)
			return make_error(EINVAL, "SOCKFD is negative (%d)", fd);
		req.sockfd = fd;
		break;
	}
	case HANDSHAKE_A_ACCEPT_MESSAGE_TYPE:
		req.message_type = TRY(read_u32(a, name));
		break;
	case HANDSHAKE_A_ACCEPT_TIMEOUT:
		req.timeout_ms = TRY(read_u32(a, name));
		break;
	case HANDSHAKE_A_ACCEPT_AUTH_MODE:
		req.auth_mode = TRY(read_u32(a, name));
		break;
	case HANDSHAKE_A_ACCEPT_PEER_IDENTITY: {
		auto id = static_cast<int32_t>(TRY(read_u32(a, name)));
		if (req.peer_identities.size() >= kMaxPeerIdentities)
			return make_error(EINVAL, "more than %zu PEER_IDENTITY attributes",
			                  kMaxPeerIdentities);
		req.peer_identities.push_back(id);
		break;
	}
	case HANDSHAKE_A_ACCEPT_CERTIFICATE: {
		auto pair = TRY(read_certificate(a));
		if (req.certificates.size() >= kMaxCertificates)
			return make_error(EINVAL, "more than %zu CERTIFICATE nests",
			                  kMaxCertificates);
		req.certificates.push_back(pair);
		break;
	}
	case HANDSHAKE_A_ACCEPT_PEERNAME: {
		auto name_value = TRY(read_string(a));
		if (!name_value.empty())
			req.peername = std::move(name_value);
		break;
	}
	case HANDSHAKE_A_ACCEPT_KEYRING:
		req.keyring = static_cast<int32_t>(TRY(read_u32(a, name)));
		break;
	default:
		break; // HANDLER_CLASS is request-only; newer attributes are skipped
	}
	return {};
}

void put_u32(std::vector<uint8_t> &out, uint16_t type, uint32_t value) {
	nlattr hdr{static_cast<uint16_t>(NLA_HDRLEN + sizeof(value)), type};
	size_t at = out.size();
	out.resize(at + NLA_ALIGN(hdr.nla_len));
	std::memcpy(out.data() + at, &hdr, sizeof(hdr));
	std::memcpy(out.data() + at + NLA_HDRLEN, &value, sizeof(value));
}

} // namespace

AcceptDecode decode_accept(std::span<const uint8_t> attrs) {
	AcceptDecode out;
	AttrReader reader(attrs);
	Attr a;
	while (reader.next(a)) {
		auto r = apply_attr(out.request, a);
		if (!r) {
			out.error = std::move(r).error();
			return out;
		}
	}
	if (reader.error()) {
		out.error = reader.error();
		return out;
	}
	if (out.request.sockfd < 0)
		out.error = make_error(EINVAL, "ACCEPT reply without SOCKFD");
	return out;
}

Result<void> validate_request(const AcceptReply &req) {
	if (req.sockfd < 0)
		return make_error(EINVAL, "no socket");
	switch (req.message_type) {
	case HANDSHAKE_MSG_TYPE_CLIENTHELLO:
		if (req.auth_mode != HANDSHAKE_AUTH_UNAUTH && req.auth_mode != HANDSHAKE_AUTH_PSK &&
		    req.auth_mode != HANDSHAKE_AUTH_X509)
			return make_error(EINVAL, "client handshake with unknown auth mode %u",
			                  req.auth_mode);
		if (req.auth_mode == HANDSHAKE_AUTH_PSK &&
		    std::none_of(req.peer_identities.begin(), req.peer_identities.end(),
		                 [](int32_t id) { return id > 0; }))
			return make_error(EINVAL, "client PSK handshake without a PEER_IDENTITY");
		break;
	case HANDSHAKE_MSG_TYPE_SERVERHELLO:
		if (req.auth_mode != HANDSHAKE_AUTH_PSK && req.auth_mode != HANDSHAKE_AUTH_X509)
			return make_error(EINVAL, "server handshake with unsupported auth mode %u",
			                  req.auth_mode);
		break;
	default:
		return make_error(EINVAL, "unknown message type %u", req.message_type);
	}
	// Zero is TLS_NO_PEERID: upstream's server PSK request sends its
	// ta_my_peerids[0], which consumers leave at zero.
	for (int32_t id : req.peer_identities)
		if (id < 0)
			return make_error(EINVAL, "PEER_IDENTITY %d is not a key serial", id);
	for (const auto &c : req.certificates)
		if (c.cert < 0 || c.privkey < 0)
			return make_error(EINVAL, "CERTIFICATE {%d, %d} is not a key serial pair",
			                  c.cert, c.privkey);
	if (req.keyring < 0)
		return make_error(EINVAL, "KEYRING %d is not a key serial", req.keyring);
	return {};
}

std::vector<uint8_t> encode_done(const DoneCommand &done) {
	std::vector<uint8_t> out;
	out.reserve(8 * (2 + done.remote_auth.size()));
	put_u32(out, HANDSHAKE_A_DONE_STATUS, done.status);
	put_u32(out, HANDSHAKE_A_DONE_SOCKFD, static_cast<uint32_t>(done.sockfd));
	for (uint32_t id : done.remote_auth)
		put_u32(out, HANDSHAKE_A_DONE_REMOTE_AUTH, id);
	return out;
}

std::optional<uint32_t> decode_ready_class(std::span<const uint8_t> attrs) {
	AttrReader reader(attrs);
	Attr a;
	while (reader.next(a)) {
		if (a.type != HANDSHAKE_A_ACCEPT_HANDLER_CLASS)
			continue;
		auto v = read_u32(a, "HANDLER_CLASS");
		if (!v)
			return std::nullopt;
		return v.value();
	}
	return std::nullopt;
}

} // namespace tlsup
