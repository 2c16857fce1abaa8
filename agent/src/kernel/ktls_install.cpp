// SPDX-License-Identifier: GPL-2.0
#include "ktls_install.hpp"

#include <cstring>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

namespace tlsup {

namespace {

// Salt and explicit IV split of the 12-byte TLS 1.3 static IV: the GCM and
// CCM layouts keep the first 4 bytes as "salt", ChaCha20 takes all 12 as iv.
template <class Info, size_t KeySize, size_t SaltSize, size_t IvSize>
Result<SecretBytes> pack(uint16_t cipher_type, const DirectionSecrets &s) {
	static_assert(SaltSize + IvSize == 12);
	if (s.key.size() != KeySize)
		return make_error(EINVAL, "cipher key is %zu bytes, kTLS expects %zu", s.key.size(),
		                  KeySize);
	if (s.iv.size() != 12)
		return make_error(EINVAL, "IV is %zu bytes, TLS 1.3 uses 12", s.iv.size());
	Info info;
	std::memset(&info, 0, sizeof(info));
	info.info.version = TLS_1_3_VERSION;
	info.info.cipher_type = cipher_type;
	std::memcpy(info.key, s.key.data(), KeySize);
	if constexpr (SaltSize > 0)
		std::memcpy(info.salt, s.iv.data(), SaltSize);
	std::memcpy(info.iv, s.iv.data() + SaltSize, IvSize);
	std::memcpy(info.rec_seq, s.seq.data(), sizeof(info.rec_seq));
	SecretBytes out(
	        std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&info), sizeof(info)));
	explicit_bzero(&info, sizeof(info));
	return out;
}

const char *why(int err) {
	switch (err) {
	case ENOENT:
		return "the kernel has no \"tls\" ULP (CONFIG_TLS, module tls)";
	case EOPNOTSUPP:
	case ENOPROTOOPT:
		return "the socket does not support kTLS";
	case EEXIST:
		return "a ULP is already attached to the socket";
	case ENOTCONN:
		return "the socket is not connected";
	case EBADF:
	case ENOTSOCK:
		return "the socket is gone";
	case EINVAL:
		return "the kernel rejected the crypto parameters";
	default:
		return strerror(err);
	}
}

} // namespace

bool ktls_supports(gnutls_cipher_algorithm_t cipher) {
	switch (cipher) {
	case GNUTLS_CIPHER_AES_128_GCM:
	case GNUTLS_CIPHER_AES_256_GCM:
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
	case GNUTLS_CIPHER_AES_128_CCM:
		return true;
	default:
		return false;
	}
}

Result<SecretBytes> pack_crypto_info(gnutls_cipher_algorithm_t cipher, const DirectionSecrets &s) {
	switch (cipher) {
	case GNUTLS_CIPHER_AES_128_GCM:
		return pack<tls12_crypto_info_aes_gcm_128, TLS_CIPHER_AES_GCM_128_KEY_SIZE,
		            TLS_CIPHER_AES_GCM_128_SALT_SIZE, TLS_CIPHER_AES_GCM_128_IV_SIZE>(
		        TLS_CIPHER_AES_GCM_128, s);
	case GNUTLS_CIPHER_AES_256_GCM:
		return pack<tls12_crypto_info_aes_gcm_256, TLS_CIPHER_AES_GCM_256_KEY_SIZE,
		            TLS_CIPHER_AES_GCM_256_SALT_SIZE, TLS_CIPHER_AES_GCM_256_IV_SIZE>(
		        TLS_CIPHER_AES_GCM_256, s);
	case GNUTLS_CIPHER_AES_128_CCM:
		return pack<tls12_crypto_info_aes_ccm_128, TLS_CIPHER_AES_CCM_128_KEY_SIZE,
		            TLS_CIPHER_AES_CCM_128_SALT_SIZE, TLS_CIPHER_AES_CCM_128_IV_SIZE>(
		        TLS_CIPHER_AES_CCM_128, s);
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		return pack<tls12_crypto_info_chacha20_poly1305,
		            TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE,
		            TLS_CIPHER_CHACHA20_POLY1305_SALT_SIZE,
		            TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE>(TLS_CIPHER_CHACHA20_POLY1305, s);
	default:
		return make_error(EINVAL, "cipher %s has no kTLS layout",
		                  gnutls_cipher_get_name(cipher));
	}
}

Result<void> install_ktls(int fd, const TrafficSecrets &secrets) {
	auto tx = pack_crypto_info(secrets.cipher, secrets.tx);
	if (!tx)
		return make_error(EIO, "kTLS: %s", tx.error().reason.c_str());
	auto rx = pack_crypto_info(secrets.cipher, secrets.rx);
	if (!rx)
		return make_error(EIO, "kTLS: %s", rx.error().reason.c_str());
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		return make_error(EIO, "kTLS: setsockopt(TCP_ULP, \"tls\"): %s", why(errno));
	if (setsockopt(fd, SOL_TLS, TLS_TX, tx->data(), static_cast<socklen_t>(tx->size())) < 0)
		return make_error(EIO, "kTLS: setsockopt(SOL_TLS, TLS_TX, %s): %s",
		                  gnutls_cipher_get_name(secrets.cipher), why(errno));
	if (secrets.tx_max_payload) {
		uint16_t limit = static_cast<uint16_t>(secrets.tx_max_payload);
		if (setsockopt(fd, SOL_TLS, kTlsTxMaxPayloadLen, &limit, sizeof(limit)) < 0)
			return make_error(
			        EIO,
			        "kTLS: the peer accepts records of at most %zu bytes (RFC 8449 "
			        "record_size_limit), and setsockopt(SOL_TLS, "
			        "TLS_TX_MAX_PAYLOAD_LEN) "
			        "failed: %s%s",
			        secrets.tx_max_payload, why(errno),
			        errno == ENOPROTOOPT ? " (this kernel's kTLS has no such option)"
			                             : "");
	}
	if (setsockopt(fd, SOL_TLS, TLS_RX, rx->data(), static_cast<socklen_t>(rx->size())) < 0)
		return make_error(EIO, "kTLS: setsockopt(SOL_TLS, TLS_RX, %s): %s",
		                  gnutls_cipher_get_name(secrets.cipher), why(errno));
	return {};
}

} // namespace tlsup
