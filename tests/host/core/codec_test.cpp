// SPDX-License-Identifier: GPL-2.0
// The attribute reader and the ACCEPT/DONE request decoders.
#include "harness.hpp"

#include "core/messages.hpp"

namespace test {
namespace {

kstd::Bytes bytes(const std::vector<uint8_t> &v) {
	return {v.data(), v.size()};
}

TEST(AttrReader, WalksAlignedAttributes) {
	fake::AttrBuilder b;
	b.u32(1, 7).str(2, "abc").raw(3, "x", 1);
	tlsup::nl::AttrReader rd(bytes(b.bytes));
	tlsup::nl::Attr a;
	ASSERT_TRUE(rd.next(a));
	EXPECT_EQ(a.type, 1);
	EXPECT_EQ(a.as_u32(), 7u);
	ASSERT_TRUE(rd.next(a));
	EXPECT_EQ(a.type, 2);
	EXPECT_TRUE(a.is_cstring());
	ASSERT_TRUE(rd.next(a));
	EXPECT_EQ(a.payload.size(), 1u);
	EXPECT_FALSE(rd.next(a));
	EXPECT_TRUE(rd.ok());
}

TEST(AttrReader, RejectsLengthBelowHeader) {
	std::vector<uint8_t> v = {3, 0, 1, 0, 0, 0, 0, 0};
	tlsup::nl::AttrReader rd(bytes(v));
	tlsup::nl::Attr a;
	EXPECT_FALSE(rd.next(a));
	EXPECT_FALSE(rd.ok());
}

TEST(AttrReader, RejectsLengthBeyondBuffer) {
	std::vector<uint8_t> v = {12, 0, 1, 0, 0, 0, 0, 0};
	tlsup::nl::AttrReader rd(bytes(v));
	tlsup::nl::Attr a;
	EXPECT_FALSE(rd.next(a));
	EXPECT_FALSE(rd.ok());
}

TEST(AttrReader, TrailingBytesShorterThanHeaderArePadding) {
	fake::AttrBuilder b;
	b.u32(1, 1);
	b.bytes.push_back(0);
	b.bytes.push_back(0);
	tlsup::nl::AttrReader rd(bytes(b.bytes));
	tlsup::nl::Attr a;
	EXPECT_TRUE(rd.next(a));
	EXPECT_FALSE(rd.next(a));
	EXPECT_TRUE(rd.ok());
}

TEST(AttrReader, LastAttributeWithoutPaddingIsRead) {
	// nla_len 5 at the very end: its padding is not in the buffer.
	std::vector<uint8_t> v = {5, 0, 2, 0, 'z'};
	tlsup::nl::AttrReader rd(bytes(v));
	tlsup::nl::Attr a;
	ASSERT_TRUE(rd.next(a));
	EXPECT_EQ(a.payload.size(), 1u);
	EXPECT_FALSE(rd.next(a));
	EXPECT_TRUE(rd.ok());
}

TEST(DoneDecode, AllFields) {
	fake::AttrBuilder b;
	b.u32(HANDSHAKE_A_DONE_STATUS, 13).s32(HANDSHAKE_A_DONE_SOCKFD, 9);
	for (uint32_t i = 1; i <= 7; i++)
		b.u32(HANDSHAKE_A_DONE_REMOTE_AUTH, i);
	auto d = tlsup::decode_done_request(bytes(b.bytes));
	ASSERT_TRUE(d);
	EXPECT_EQ(d->sockfd, 9);
	EXPECT_EQ(d->consumer_status(), -13);
	EXPECT_EQ(d->num_remote, 7u);
	EXPECT_EQ(d->kept_remote(), 5u);
	EXPECT_EQ(d->remote[4], 5);
}

TEST(DoneDecode, StatusBoundIs4095) {
	fake::AttrBuilder ok, bad;
	ok.s32(HANDSHAKE_A_DONE_SOCKFD, 1).u32(HANDSHAKE_A_DONE_STATUS, 4095);
	bad.s32(HANDSHAKE_A_DONE_SOCKFD, 1).u32(HANDSHAKE_A_DONE_STATUS, 4096);
	EXPECT_TRUE(tlsup::decode_done_request(bytes(ok.bytes)));
	auto r = tlsup::decode_done_request(bytes(bad.bytes));
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().code(), ERANGE);
}

TEST(DoneDecode, NestedOrWrongSizedAttributesAreInvalid) {
	uint32_t v = 1;
	uint64_t wide = 1;
	fake::AttrBuilder nested, wide_fd, short_auth;
	nested.raw(HANDSHAKE_A_DONE_SOCKFD, &v, 4, 0x8000);
	wide_fd.raw(HANDSHAKE_A_DONE_SOCKFD, &wide, 8);
	short_auth.s32(HANDSHAKE_A_DONE_SOCKFD, 1).raw(HANDSHAKE_A_DONE_REMOTE_AUTH, &v, 2);
	for (auto *b : {&nested, &wide_fd, &short_auth})
		EXPECT_FALSE(tlsup::decode_done_request(bytes(b->bytes)));
}

TEST(DoneDecode, EmptyIsInvalid) {
	EXPECT_FALSE(tlsup::decode_done_request({}));
}

TEST(AcceptDecode, ClassRequiredAndBounded) {
	fake::AttrBuilder ok, max, over;
	ok.u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, 1);
	max.u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, HANDSHAKE_HANDLER_CLASS_MAX);
	over.u32(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, HANDSHAKE_HANDLER_CLASS_MAX + 1);
	auto r = tlsup::decode_accept_request(bytes(ok.bytes));
	ASSERT_TRUE(r);
	EXPECT_EQ(r->handler_class, 1u);
	EXPECT_TRUE(tlsup::decode_accept_request(bytes(max.bytes)));
	auto o = tlsup::decode_accept_request(bytes(over.bytes));
	ASSERT_FALSE(o);
	EXPECT_EQ(o.error().code(), ERANGE);
	EXPECT_FALSE(tlsup::decode_accept_request({}));
}

} // namespace
} // namespace test
