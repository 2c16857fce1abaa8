// SPDX-License-Identifier: GPL-2.0
//
// ACCEPT replies built with libnl the way the kernel lays them out, decoded
// by tlsupd; DONE requests encoded by tlsupd, parsed back with libnl.
#include <gtest/gtest.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include <uapi/linux/handshake.h>

#include "netlink_messages.hpp"

namespace tlsup {
namespace {

// An attribute stream built with libnl (an independent encoder).
class Attrs {
public:
	Attrs() : msg_(nlmsg_alloc()) {}
	~Attrs() { nlmsg_free(msg_); }
	Attrs &u32(int type, uint32_t v) {
		nla_put_u32(msg_, type, v);
		return *this;
	}
	Attrs &str(int type, const char *s) {
		nla_put_string(msg_, type, s);
		return *this;
	}
	Attrs &raw(int type, const void *data, int len) {
		nla_put(msg_, type, len, data);
		return *this;
	}
	Attrs &cert(int32_t c, int32_t k) {
		nlattr *n = nla_nest_start(msg_, HANDSHAKE_A_ACCEPT_CERTIFICATE | NLA_F_NESTED);
		nla_put_s32(msg_, HANDSHAKE_A_X509_CERT, c);
		nla_put_s32(msg_, HANDSHAKE_A_X509_PRIVKEY, k);
		nla_nest_end(msg_, n);
		return *this;
	}
	std::vector<uint8_t> bytes() const {
		nlmsghdr *h = nlmsg_hdr(msg_);
		auto *p = static_cast<uint8_t *>(nlmsg_data(h));
		return {p, p + nlmsg_datalen(h)};
	}

private:
	nl_msg *msg_;
};

TEST(AcceptDecode, EveryAttributeInTheKernelsOrder) {
	auto b = Attrs().u32(HANDSHAKE_A_ACCEPT_SOCKFD, 7)
	                 .u32(HANDSHAKE_A_ACCEPT_MESSAGE_TYPE, HANDSHAKE_MSG_TYPE_CLIENTHELLO)
	                 .str(HANDSHAKE_A_ACCEPT_PEERNAME, "nfs.example.net")
	                 .u32(HANDSHAKE_A_ACCEPT_TIMEOUT, 15000)
	                 .u32(HANDSHAKE_A_ACCEPT_AUTH_MODE, HANDSHAKE_AUTH_X509)
	                 .cert(101, 102)
	                 .u32(HANDSHAKE_A_ACCEPT_KEYRING, 555)
	                 .bytes();
	auto d = decode_accept(b);
	ASSERT_FALSE(d.error) << d.error->reason;
	const auto &r = d.request;
	EXPECT_EQ(r.sockfd, 7);
	EXPECT_EQ(r.message_type, HANDSHAKE_MSG_TYPE_CLIENTHELLO);
	EXPECT_EQ(r.peername.value_or(""), "nfs.example.net");
	EXPECT_EQ(r.timeout_ms, 15000u);
	EXPECT_EQ(r.auth_mode, HANDSHAKE_AUTH_X509);
	ASSERT_EQ(r.certificates.size(), 1u);
	EXPECT_EQ(r.certificates[0].cert, 101);
	EXPECT_EQ(r.certificates[0].privkey, 102);
	EXPECT_EQ(r.keyring, 555);
	EXPECT_TRUE(validate_request(r).ok());
}

TEST(AcceptDecode, RepeatedPeerIdentitiesAndCertificateNests) {
	Attrs a;
	a.u32(HANDSHAKE_A_ACCEPT_SOCKFD, 3).u32(HANDSHAKE_A_ACCEPT_MESSAGE_TYPE, 1);
	a.u32(HANDSHAKE_A_ACCEPT_AUTH_MODE, HANDSHAKE_AUTH_PSK);
	for (uint32_t id : {11u, 12u, 13u, 14u, 15u})
		a.u32(HANDSHAKE_A_ACCEPT_PEER_IDENTITY, id);
	a.cert(0, 0).cert(21, 22);
	auto d = decode_accept(a.bytes());
	ASSERT_FALSE(d.error) << d.error->reason;
	EXPECT_EQ(d.request.peer_identities, (std::vector<int32_t>{11, 12, 13, 14, 15}));
	ASSERT_EQ(d.request.certificates.size(), 2u);
	EXPECT_EQ(d.request.certificates[1].cert, 21);
	EXPECT_EQ(d.request.certificates[1].privkey, 22);
	EXPECT_FALSE(d.request.peername);
	EXPECT_EQ(d.request.timeout_ms, 0u);
}

TEST(AcceptDecode, UnknownAttributesAreSkipped) {
	uint64_t future = 0x1122334455667788;
	auto b = Attrs().raw(42, &future, sizeof(future))
	                 .u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, 1)
	                 .u32(HANDSHAKE_A_ACCEPT_SOCKFD, 9)
	                 .u32(HANDSHAKE_A_ACCEPT_MESSAGE_TYPE, 2)
	                 .u32(HANDSHAKE_A_ACCEPT_AUTH_MODE, HANDSHAKE_AUTH_PSK)
	                 .bytes();
	auto d = decode_accept(b);
	ASSERT_FALSE(d.error) << d.error->reason;
	EXPECT_EQ(d.request.sockfd, 9);
	EXPECT_TRUE(validate_request(d.request).ok());
}

TEST(AcceptDecode, MissingSockfdIsAnError) {
	auto d = decode_accept(Attrs().u32(HANDSHAKE_A_ACCEPT_MESSAGE_TYPE, 1).bytes());
	ASSERT_TRUE(d.error);
	EXPECT_EQ(d.error->code, EINVAL);
	EXPECT_EQ(d.request.sockfd, -1);
}

TEST(AcceptDecode, DamageAfterSockfdKeepsTheSocket) {
	auto b = Attrs().u32(HANDSHAKE_A_ACCEPT_SOCKFD, 5)
	                 .u32(HANDSHAKE_A_ACCEPT_AUTH_MODE, 3)
	                 .bytes();
	b[b.size() - 8] = 0x40; // the second attribute's length now overruns
	auto d = decode_accept(b);
	ASSERT_TRUE(d.error);
	EXPECT_EQ(d.request.sockfd, 5); // so DONE(EINVAL) can still be sent
	EXPECT_NE(d.error->reason.find("bad length"), std::string::npos);
}

TEST(AcceptDecode, ShortIntegerIsAnError) {
	uint16_t two = 2;
	auto d = decode_accept(Attrs().u32(HANDSHAKE_A_ACCEPT_SOCKFD, 4)
	                               .raw(HANDSHAKE_A_ACCEPT_TIMEOUT, &two, sizeof(two))
	                               .bytes());
	ASSERT_TRUE(d.error);
	EXPECT_NE(d.error->reason.find("TIMEOUT"), std::string::npos);
}

TEST(AcceptDecode, PeernameMustBeNulTerminatedAndBounded) {
	auto unterminated = decode_accept(Attrs().u32(HANDSHAKE_A_ACCEPT_SOCKFD, 4)
	                                          .raw(HANDSHAKE_A_ACCEPT_PEERNAME, "abc", 3)
	                                          .bytes());
	ASSERT_TRUE(unterminated.error);
	EXPECT_NE(unterminated.error->reason.find("NUL"), std::string::npos);

	std::string huge(kMaxPeernameLength + 1, 'a');
	auto too_long = decode_accept(Attrs().u32(HANDSHAKE_A_ACCEPT_SOCKFD, 4)
	                                      .str(HANDSHAKE_A_ACCEPT_PEERNAME, huge.c_str())
	                                      .bytes());
	ASSERT_TRUE(too_long.error);

	auto empty = decode_accept(Attrs().u32(HANDSHAKE_A_ACCEPT_SOCKFD, 4)
	                                   .str(HANDSHAKE_A_ACCEPT_PEERNAME, "")
	                                   .bytes());
	ASSERT_FALSE(empty.error);
	EXPECT_FALSE(empty.request.peername);
}

TEST(AcceptDecode, TooManyIdentitiesOrCertificatesIsAnError) {
	Attrs a;
	a.u32(HANDSHAKE_A_ACCEPT_SOCKFD, 4);
	for (size_t i = 0; i <= kMaxPeerIdentities; i++)
		a.u32(HANDSHAKE_A_ACCEPT_PEER_IDENTITY, static_cast<uint32_t>(i + 1));
	EXPECT_TRUE(decode_accept(a.bytes()).error);

	Attrs c;
	c.u32(HANDSHAKE_A_ACCEPT_SOCKFD, 4);
	for (size_t i = 0; i <= kMaxCertificates; i++)
		c.cert(1, 2);
	EXPECT_TRUE(decode_accept(c.bytes()).error);
}

TEST(AcceptDecode, RepeatedSockfdIsAnErrorAndKeepsTheFirst) {
	auto d = decode_accept(Attrs().u32(HANDSHAKE_A_ACCEPT_SOCKFD, 4)
	                               .u32(HANDSHAKE_A_ACCEPT_SOCKFD, 5)
	                               .bytes());
	ASSERT_TRUE(d.error);
	EXPECT_EQ(d.request.sockfd, 4);
}

TEST(AcceptDecode, DamagedCertificateNestIsAnError) {
	uint8_t junk[6] = {0xff, 0x00, 0x01, 0x00, 0, 0};
	auto d = decode_accept(Attrs().u32(HANDSHAKE_A_ACCEPT_SOCKFD, 4)
	                               .raw(HANDSHAKE_A_ACCEPT_CERTIFICATE, junk, sizeof(junk))
	                               .bytes());
	ASSERT_TRUE(d.error);
	EXPECT_NE(d.error->reason.find("CERTIFICATE"), std::string::npos);
}

AcceptReply request(uint32_t type, uint32_t auth) {
	AcceptReply r;
	r.sockfd = 3;
	r.message_type = type;
	r.auth_mode = auth;
	return r;
}

TEST(ValidateRequest, ZeroPeerIdentityMeansNone) {
	// Upstream's server PSK request carries ta_my_peerids[0], usually 0.
	AcceptReply server = request(2, HANDSHAKE_AUTH_PSK);
	server.peer_identities = {0};
	EXPECT_TRUE(validate_request(server).ok());
	AcceptReply client = request(1, HANDSHAKE_AUTH_PSK);
	client.peer_identities = {0};
	EXPECT_FALSE(validate_request(client).ok());
	client.peer_identities = {0, 12};
	EXPECT_TRUE(validate_request(client).ok());
}

TEST(ValidateRequest, ParameterRules) {
	using R = AcceptReply;
	EXPECT_TRUE(validate_request(request(1, HANDSHAKE_AUTH_UNAUTH)).ok());
	EXPECT_TRUE(validate_request(request(1, HANDSHAKE_AUTH_X509)).ok());
	EXPECT_TRUE(validate_request(request(2, HANDSHAKE_AUTH_X509)).ok());
	EXPECT_TRUE(validate_request(request(2, HANDSHAKE_AUTH_PSK)).ok());
	struct Bad {
		R req;
		const char *why;
	};
	R psk_no_ids = request(1, HANDSHAKE_AUTH_PSK);
	R bad_id = request(1, HANDSHAKE_AUTH_PSK);
	bad_id.peer_identities = {-4};
	R bad_ring = request(1, HANDSHAKE_AUTH_X509);
	bad_ring.keyring = -1;
	R no_fd = request(1, HANDSHAKE_AUTH_X509);
	no_fd.sockfd = -1;
	R bad_cert = request(1, HANDSHAKE_AUTH_X509);
	bad_cert.certificates = {{-1, 3}};
	for (const Bad &b : {Bad{request(2, HANDSHAKE_AUTH_UNAUTH), "anonymous server"},
	                     Bad{request(1, HANDSHAKE_AUTH_UNSPEC), "no auth mode"},
	                     Bad{request(1, 9), "unknown auth mode"},
	                     Bad{request(0, HANDSHAKE_AUTH_X509), "no message type"},
	                     Bad{request(3, HANDSHAKE_AUTH_X509), "unknown message type"},
	                     Bad{psk_no_ids, "PSK client without identities"},
	                     Bad{bad_id, "negative identity"}, Bad{bad_ring, "negative keyring"},
	                     Bad{no_fd, "no socket"}, Bad{bad_cert, "negative certificate"}}) {
		auto v = validate_request(b.req);
		ASSERT_FALSE(v.ok()) << b.why;
		EXPECT_EQ(v.error().code, EINVAL) << b.why;
	}
}

TEST(DoneEncode, StatusSockfdAndEveryRemoteAuth) {
	DoneCommand m{17, EACCES, {100, 200, 300}};
	auto b = encode_done(m);
	ASSERT_EQ(b.size() % 4, 0u);
	auto *head = reinterpret_cast<nlattr *>(b.data());
	nlattr *tb[HANDSHAKE_A_DONE_MAX + 1] = {};
	ASSERT_EQ(nla_parse(tb, HANDSHAKE_A_DONE_MAX, head, static_cast<int>(b.size()), nullptr),
	          0);
	ASSERT_TRUE(tb[HANDSHAKE_A_DONE_STATUS]);
	ASSERT_TRUE(tb[HANDSHAKE_A_DONE_SOCKFD]);
	EXPECT_EQ(nla_get_u32(tb[HANDSHAKE_A_DONE_STATUS]), static_cast<uint32_t>(EACCES));
	EXPECT_EQ(static_cast<int32_t>(nla_get_u32(tb[HANDSHAKE_A_DONE_SOCKFD])), 17);
	std::vector<uint32_t> remote;
	nlattr *pos;
	int rem;
	nla_for_each_attr(pos, head, static_cast<int>(b.size()), rem) {
		if (nla_type(pos) == HANDSHAKE_A_DONE_REMOTE_AUTH)
			remote.push_back(nla_get_u32(pos));
	}
	EXPECT_EQ(remote, (std::vector<uint32_t>{100, 200, 300}));
}

TEST(DoneEncode, SuccessWithoutPeers) {
	auto b = encode_done(DoneCommand{4, 0, {}});
	EXPECT_EQ(b.size(), 16u); // STATUS and SOCKFD only
	nlattr *tb[HANDSHAKE_A_DONE_MAX + 1] = {};
	ASSERT_EQ(nla_parse(tb, HANDSHAKE_A_DONE_MAX, reinterpret_cast<nlattr *>(b.data()),
	                    static_cast<int>(b.size()), nullptr),
	          0);
	EXPECT_EQ(nla_get_u32(tb[HANDSHAKE_A_DONE_STATUS]), 0u);
	EXPECT_FALSE(tb[HANDSHAKE_A_DONE_REMOTE_AUTH]);
}

TEST(ReadyDecode, HandlerClass) {
	EXPECT_EQ(decode_ready_class(Attrs().u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, 1).bytes()), 1u);
	EXPECT_EQ(decode_ready_class(Attrs().u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, 0).bytes()), 0u);
	EXPECT_FALSE(decode_ready_class(Attrs().u32(HANDSHAKE_A_ACCEPT_SOCKFD, 1).bytes()));
}

} // namespace
} // namespace tlsup
