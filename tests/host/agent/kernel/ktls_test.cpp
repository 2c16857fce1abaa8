// SPDX-License-Identifier: GPL-2.0
//
// kTLS hand-off: the crypto_info bytes for each cipher against GnuTLS's
// record state, then used as the kernel would (records both ways), and the
// installation's failure on a socket without kTLS.
#include <cstring>
#include <gtest/gtest.h>
#include <linux/tls.h>

#include <uapi/linux/handshake.h>

#include "test_support.hpp"

namespace tlsup::test {
namespace {

struct CipherCase {
	const char *name;
	const char *priority; // the peer's: only this cipher
	gnutls_cipher_algorithm_t cipher;
	uint16_t kernel_type;
	size_t key, salt, iv, info_size;
};

const CipherCase kCiphers[] = {
        {"AES_128_GCM", "+AES-128-GCM", GNUTLS_CIPHER_AES_128_GCM, TLS_CIPHER_AES_GCM_128, 16, 4, 8,
         sizeof(tls12_crypto_info_aes_gcm_128)},
        {"AES_256_GCM", "+AES-256-GCM", GNUTLS_CIPHER_AES_256_GCM, TLS_CIPHER_AES_GCM_256, 32, 4, 8,
         sizeof(tls12_crypto_info_aes_gcm_256)},
        {"CHACHA20_POLY1305", "+CHACHA20-POLY1305", GNUTLS_CIPHER_CHACHA20_POLY1305,
         TLS_CIPHER_CHACHA20_POLY1305, 32, 0, 12, sizeof(tls12_crypto_info_chacha20_poly1305)},
        {"AES_128_CCM", "+AES-128-CCM", GNUTLS_CIPHER_AES_128_CCM, TLS_CIPHER_AES_CCM_128, 16, 4, 8,
         sizeof(tls12_crypto_info_aes_ccm_128)},
};

// Test names carry the cipher, not the bytes of the parameter.
void PrintTo(const CipherCase &c, std::ostream *os) {
	*os << c.name;
}

class KtlsCipherTest : public ::testing::TestWithParam<CipherCase> {};

// Compares packed bytes with the record state field by field, reading the
// kernel's layout: header, then key, salt, iv, rec_seq per struct.
void expect_matches_state(const CipherCase &c, std::span<const uint8_t> info, gnutls_session_t s,
                          int read) {
	gnutls_datum_t mac{}, iv{}, key{};
	unsigned char seq[8];
	ASSERT_EQ(gnutls_record_get_state(s, read, &mac, &iv, &key, seq), 0);
	ASSERT_EQ(info.size(), c.info_size);
	tls_crypto_info hdr;
	std::memcpy(&hdr, info.data(), sizeof(hdr));
	EXPECT_EQ(hdr.version, TLS_1_3_VERSION);
	EXPECT_EQ(hdr.cipher_type, c.kernel_type);
	ASSERT_EQ(key.size, c.key);
	ASSERT_EQ(iv.size, 12u);
	// Offsets in every tls12_crypto_info_*: iv, key, salt, rec_seq (GCM
	// and CCM); iv, key, salt (empty), rec_seq (ChaCha20).
	size_t off = sizeof(tls_crypto_info);
	std::span<const uint8_t> f_iv = info.subspan(off, c.iv);
	std::span<const uint8_t> f_key = info.subspan(off + c.iv, c.key);
	std::span<const uint8_t> f_salt = info.subspan(off + c.iv + c.key, c.salt);
	std::span<const uint8_t> f_seq = info.subspan(off + c.iv + c.key + c.salt, 8);
	EXPECT_EQ(0, std::memcmp(f_key.data(), key.data, c.key));
	EXPECT_EQ(0, std::memcmp(f_salt.data(), iv.data, c.salt));
	EXPECT_EQ(0, std::memcmp(f_iv.data(), iv.data + c.salt, c.iv));
	EXPECT_EQ(0, std::memcmp(f_seq.data(), seq, 8));
}

TEST_P(KtlsCipherTest, CryptoInfoMatchesRecordStateAndCarriesRecords) {
	const CipherCase &c = GetParam();
	auto prio = Priorities::create().value();
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	SessionSetup s;
	s.role = Role::Server;
	s.auth = Auth::X509;
	s.credentials = make_credentials(spec);
	s.priorities = prio.get();
	auto fds = unix_pair();
	UniqueFd agent = std::move(fds.first);
	s.fd = agent.get();
	PeerOptions p;
	p.server = false;
	p.ca = "ca.pem";
	p.verify_name = "server.test";
	p.priority = std::string("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:") + c.priority;
	p.data_after = std::string("ping via ") + c.name;
	p.receive_after = 4;
	Peer peer(std::move(fds.second), p);
	CaptureLog log;
	auto session = TlsSession::create(std::move(s), log.log());
	ASSERT_TRUE(session.ok()) << session.error().reason;
	auto r = drive(**session, agent.get());
	ASSERT_TRUE(r.ok()) << r.error().reason;
	gnutls_session_t gs = session.value()->gnutls();
	ASSERT_EQ(gnutls_cipher_get(gs), c.cipher);

	auto secrets = session.value()->traffic_secrets();
	ASSERT_TRUE(secrets.ok()) << secrets.error().reason;
	EXPECT_EQ(secrets->cipher, c.cipher);
	auto tx = pack_crypto_info(secrets->cipher, secrets->tx);
	auto rx = pack_crypto_info(secrets->cipher, secrets->rx);
	ASSERT_TRUE(tx.ok() && rx.ok());
	expect_matches_state(c, tx->span(), gs, 0);
	expect_matches_state(c, rx->span(), gs, 1);

	// What the kernel would do with them.
	auto rx_codec = RecordCodec::from_crypto_info(rx->span());
	auto tx_codec = RecordCodec::from_crypto_info(tx->span());
	ASSERT_TRUE(rx_codec.ok() && tx_codec.ok());
	auto rec = read_record(agent.get());
	ASSERT_TRUE(rec.ok()) << rec.error().reason;
	auto opened = rx_codec->open(*rec);
	ASSERT_TRUE(opened.ok()) << opened.error().reason;
	EXPECT_EQ(opened->second, std::string("ping via ") + c.name);
	auto reply = tx_codec->seal(23, "pong");
	ASSERT_EQ(::send(agent.get(), reply.data(), reply.size(), 0),
	          static_cast<ssize_t>(reply.size()));
	EXPECT_EQ(peer.wait().received, "pong");
}

INSTANTIATE_TEST_SUITE_P(AllKtlsCiphers, KtlsCipherTest, ::testing::ValuesIn(kCiphers),
                         [](const auto &info) { return std::string(info.param.name); });

DirectionSecrets fake_direction(size_t key, size_t iv) {
	DirectionSecrets d;
	d.key = SecretBytes(random_bytes(key));
	d.iv = SecretBytes(random_bytes(iv));
	d.seq = {0, 0, 0, 0, 0, 0, 1, 2};
	return d;
}

TEST(KtlsPack, SequenceNumberIsCopiedBigEndian) {
	auto d = fake_direction(16, 12);
	auto info = pack_crypto_info(GNUTLS_CIPHER_AES_128_GCM, d);
	ASSERT_TRUE(info.ok());
	tls12_crypto_info_aes_gcm_128 s;
	std::memcpy(&s, info->data(), sizeof(s));
	EXPECT_EQ(s.rec_seq[6], 1);
	EXPECT_EQ(s.rec_seq[7], 2);
	EXPECT_EQ(0, std::memcmp(s.salt, d.iv.data(), 4));
	EXPECT_EQ(0, std::memcmp(s.iv, d.iv.data() + 4, 8));
}

TEST(KtlsPack, RejectsCiphersWithoutKtls) {
	auto d = fake_direction(16, 12);
	for (auto c :
	     {GNUTLS_CIPHER_AES_128_CBC, GNUTLS_CIPHER_AES_128_CCM_8, GNUTLS_CIPHER_UNKNOWN}) {
		auto info = pack_crypto_info(c, d);
		ASSERT_FALSE(info.ok());
		EXPECT_EQ(info.error().code, EINVAL);
	}
	EXPECT_FALSE(ktls_supports(GNUTLS_CIPHER_AES_128_CCM_8));
	EXPECT_TRUE(ktls_supports(GNUTLS_CIPHER_CHACHA20_POLY1305));
}

TEST(KtlsPack, RejectsWrongKeyOrIvSize) {
	auto short_key = fake_direction(16, 12);
	EXPECT_FALSE(pack_crypto_info(GNUTLS_CIPHER_AES_256_GCM, short_key).ok());
	auto short_iv = fake_direction(32, 8);
	EXPECT_FALSE(pack_crypto_info(GNUTLS_CIPHER_CHACHA20_POLY1305, short_iv).ok());
}

TEST(KtlsInstall, FailureOnASocketWithoutKtlsIsEio) {
	// A unix socket has no TCP ULP, on every kernel: the setsockopt fails
	// and the status that goes into DONE is EIO.
	auto fds = unix_pair();
	TrafficSecrets t;
	t.cipher = GNUTLS_CIPHER_AES_128_GCM;
	t.tx = fake_direction(16, 12);
	t.rx = fake_direction(16, 12);
	auto r = install_ktls(fds.first.get(), t);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, EIO);
	EXPECT_NE(r.error().reason.find("TCP_ULP"), std::string::npos) << r.error().reason;
}

TEST(KtlsInstall, BadSecretsAreEioBeforeAnySyscall) {
	auto fds = unix_pair();
	TrafficSecrets t;
	t.cipher = GNUTLS_CIPHER_AES_128_CBC;
	auto r = install_ktls(fds.first.get(), t);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, EIO);
	EXPECT_NE(r.error().reason.find("no kTLS layout"), std::string::npos) << r.error().reason;
}

} // namespace
} // namespace tlsup::test
