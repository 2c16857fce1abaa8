// SPDX-License-Identifier: GPL-2.0
//
// Key material and descriptions by serial, exact searches of keyrings.
#include <gtest/gtest.h>
#include <unistd.h>
#include <vector>

#include "keyring.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

TEST(Keyring, ReadsPayloadAndDescription) {
	auto payload = random_bytes(48);
	auto id = add_user_key("NVMe0R02 host;with;semicolons", payload);
	auto k = read_key(id);
	ASSERT_TRUE(k.ok()) << k.error().reason;
	EXPECT_EQ(std::vector<uint8_t>(k->data(), k->data() + k->size()), payload);
	auto d = key_description(id);
	ASSERT_TRUE(d.ok());
	EXPECT_EQ(*d, "NVMe0R02 host;with;semicolons");
}

TEST(Keyring, MissingOrRevokedKeyIsEnokey) {
	auto id = add_user_key("short-lived", bytes("x"));
	ASSERT_EQ(keyctl_revoke(id), 0);
	EXPECT_EQ(read_key(id).error().code, ENOKEY);
	EXPECT_EQ(read_key(0x7ffffff1).error().code, ENOKEY);
	EXPECT_EQ(key_description(0x7ffffff1).error().code, ENOKEY);
}

TEST(Keyring, SearchesKeyringsInOrder) {
	key_serial_t a = add_keyring("ring a", KEY_SPEC_SESSION_KEYRING);
	key_serial_t b = add_keyring("ring b", KEY_SPEC_SESSION_KEYRING);
	auto in_b = add_user_key("ident", bytes("b"), b);
	auto in_a = add_user_key("ident", bytes("a"), a);
	std::vector<key_serial_t> ab{a, b}, ba{b, a};
	EXPECT_EQ(search_keyrings(ab, "user", "ident"), in_a);
	EXPECT_EQ(search_keyrings(ba, "user", "ident"), in_b);
	EXPECT_EQ(search_keyrings(ab, "user", "nobody"), 0);
	EXPECT_EQ(search_keyrings(ab, "psk", "ident"), 0); // another type
	auto d = describe_key(in_a);
	ASSERT_TRUE(d.ok());
	EXPECT_EQ(d->type, "user");
	EXPECT_EQ(d->description, "ident");
}

TEST(Keyring, DescriptionCarriesOwnerAndPermissions) {
	key_serial_t ring = add_keyring("tlsupd-described", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_setperm(ring, KEY_POS_ALL | KEY_USR_VIEW | KEY_OTH_VIEW), 0);
	auto d = describe_key(ring);
	ASSERT_TRUE(d.ok()) << d.error().reason;
	EXPECT_EQ(d->type, "keyring");
	EXPECT_EQ(d->description, "tlsupd-described");
	EXPECT_EQ(d->uid, geteuid());
	EXPECT_EQ(d->gid, getegid());
	EXPECT_EQ(d->perm, KEY_POS_ALL | KEY_USR_VIEW | KEY_OTH_VIEW);
}

} // namespace
} // namespace tlsup::test
