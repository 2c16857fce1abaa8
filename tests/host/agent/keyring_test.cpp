// SPDX-License-Identifier: GPL-2.0
//
// Key material by serial, PSK identities by description, keyrings by name,
// and the keys that carry verified peer certificates.
#include <gtest/gtest.h>

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
	EXPECT_EQ(search_psk(ab, "ident").value(), in_a);
	EXPECT_EQ(search_psk(ba, "ident").value(), in_b);
	auto miss = search_psk(ab, "nobody");
	ASSERT_FALSE(miss.ok());
	EXPECT_EQ(miss.error().code, EKEYREJECTED);
}

TEST(Keyring, ResolvesKeyringsBySerialOrName) {
	key_serial_t ring = add_keyring("tlsupd-test-ring", KEY_SPEC_SESSION_KEYRING);
	EXPECT_EQ(resolve_keyring(std::to_string(ring)).value(), ring);
	EXPECT_EQ(resolve_keyring("tlsupd-test-ring").value(), ring);
	EXPECT_EQ(resolve_keyring("no-such-keyring-anywhere").error().code, ENOKEY);
	EXPECT_EQ(resolve_keyring("-5").error().code, EINVAL);
}

TEST(Keyring, LinksConfiguredKeyringsIntoTheProcessKeyring) {
	ASSERT_TRUE(ensure_process_keyring().ok());
	key_serial_t ring = add_keyring("tlsupd-configured", KEY_SPEC_SESSION_KEYRING);
	auto id = add_user_key("only-here", bytes("k"), ring);
	CaptureLog log;
	auto linked = link_keyrings({"tlsupd-configured"}, log.log());
	ASSERT_TRUE(linked.ok()) << linked.error().reason;
	EXPECT_EQ(linked->front(), ring);
	ASSERT_EQ(keyctl_unlink(ring, KEY_SPEC_SESSION_KEYRING), 0);
	EXPECT_EQ(keyctl_search(KEY_SPEC_PROCESS_KEYRING, "user", "only-here", 0), id);
	// A configured keyring that does not exist stops start-up.
	auto missing = link_keyrings({"tlsupd-missing-ring"}, log.log());
	ASSERT_FALSE(missing.ok());
	EXPECT_NE(missing.error().reason.find("tlsupd-missing-ring"), std::string::npos);
}

TEST(Keyring, PeerCertificateKeyIsStableAndReadable) {
	ASSERT_TRUE(ensure_process_keyring().ok());
	auto der = Pki::get().cert_der("client");
	auto a = store_peer_certificate(der, 0);
	auto b = store_peer_certificate(der, 0);
	ASSERT_TRUE(a.ok() && b.ok());
	EXPECT_GT(a.value(), 0);
	EXPECT_EQ(a.value(), b.value());
	auto payload = read_key(a.value());
	ASSERT_TRUE(payload.ok());
	EXPECT_EQ(std::vector<uint8_t>(payload->data(), payload->data() + payload->size()), der);
	auto other = store_peer_certificate(Pki::get().cert_der("server"), 0);
	EXPECT_NE(other.value(), a.value());
	EXPECT_FALSE(store_peer_certificate(der, 0x7ffffff2).ok()); // no such keyring
}

} // namespace
} // namespace tlsup::test
