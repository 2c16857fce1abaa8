// SPDX-License-Identifier: GPL-2.0
#include "priorities.hpp"

#include <algorithm>
#include <array>

namespace tlsup {

namespace {

// The ciphers kTLS implements for TLS 1.3, with the hash of their suite.
struct KtlsCipher {
	gnutls_cipher_algorithm_t id;
	const char *name;
	bool sha384;
};
constexpr std::array<KtlsCipher, 4> kKtlsCiphers{{
        {GNUTLS_CIPHER_AES_256_GCM, "AES-256-GCM", true},
        {GNUTLS_CIPHER_AES_128_GCM, "AES-128-GCM", false},
        {GNUTLS_CIPHER_CHACHA20_POLY1305, "CHACHA20-POLY1305", false},
        {GNUTLS_CIPHER_AES_128_CCM, "AES-128-CCM", false},
}};

// ML-KEM hybrids GnuTLS names (3.8.9 and later); absent before.
constexpr const char *kHybridGroups[] = {"X25519-MLKEM768", "SECP256R1-MLKEM768",
                                         "SECP384R1-MLKEM1024"};

constexpr const char *kRestrict = "-COMP-ALL:-VERS-ALL:+VERS-TLS1.3:%NO_TICKETS";
constexpr const char *kPskExchange = ":+ECDHE-PSK:+DHE-PSK:+PSK";

Result<Priority> make_priority(const std::string &appended) {
	gnutls_priority_t p = nullptr;
	const char *err = nullptr;
	int ret =
	        gnutls_priority_init2(&p, appended.c_str(), &err, GNUTLS_PRIORITY_INIT_DEF_APPEND);
	if (ret < 0)
		return make_error(EIO, "priority string rejected at '%s': %s", err ? err : "?",
		                  gnutls_strerror(ret));
	return Priority(p);
}

} // namespace

std::vector<std::string> priority_groups(gnutls_priority_t p) {
	const unsigned *list = nullptr;
	int n = gnutls_priority_group_list(p, &list);
	std::vector<std::string> out;
	for (int i = 0; i < n; i++)
		if (const char *name = gnutls_group_get_name(static_cast<gnutls_group_t>(list[i])))
			out.emplace_back(name);
	return out;
}

std::vector<std::string> priority_ciphers(gnutls_priority_t p) {
	const unsigned *list = nullptr;
	int n = gnutls_priority_cipher_list(p, &list);
	std::vector<std::string> out;
	for (int i = 0; i < n; i++)
		if (const char *name =
		            gnutls_cipher_get_name(static_cast<gnutls_cipher_algorithm_t>(list[i])))
			out.emplace_back(name);
	return out;
}

Result<std::unique_ptr<Priorities>> Priorities::create() {
	auto p = std::unique_ptr<Priorities>(new Priorities());
	gnutls_priority_t raw = nullptr;
	const char *err = nullptr;
	int ret = gnutls_priority_init(&raw, nullptr, &err);
	if (ret < 0)
		return make_error(EIO, "the system's default priority is unusable at '%s': %s",
		                  err ? err : "?", gnutls_strerror(ret));
	Priority system(raw);
	const char *file = gnutls_get_system_config_file();
	p->notes_.push_back(std::string("system policy: ") + (file ? file : "(none)") +
	                    " and GnuTLS's default priority");

	// Ciphers: the system's, in its order, that kTLS implements.
	const unsigned *ciphers = nullptr;
	int nc = gnutls_priority_cipher_list(raw, &ciphers);
	std::string all, sha256, sha384;
	for (int i = 0; i < nc; i++) {
		for (const auto &k : kKtlsCiphers) {
			if (ciphers[i] != static_cast<unsigned>(k.id))
				continue;
			std::string item = std::string(":+") + k.name;
			all += item;
			(k.sha384 ? sha384 : sha256) += item;
		}
	}
	if (all.empty())
		return make_error(EIO,
		                  "the system crypto policy allows no cipher kTLS implements "
		                  "(AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305, AES-128-CCM)");

	// Groups: the system's; hybrids first, then X25519, the rest as they
	// were. With GNUTLS_KEY_SHARE_TOP a client then sends one key share,
	// for the first: X25519 costs a fraction of the NIST curves and
	// FFDHE, which SECURE256-style orders put first (measured: ~11% of the
	// agent's instructions for two discarded shares per handshake).
	std::vector<std::string> groups = priority_groups(raw);
	if (groups.empty())
		return make_error(EIO, "the system crypto policy allows no key exchange group");
	std::vector<std::string> ordered;
	bool have_hybrid = false;
	for (const char *h : kHybridGroups) {
		if (gnutls_group_get_id(h) == GNUTLS_GROUP_INVALID)
			continue;
		have_hybrid = true;
		if (std::find(groups.begin(), groups.end(), h) != groups.end())
			ordered.emplace_back(h);
	}
	if (!have_hybrid)
		p->notes_.push_back(std::string("no ML-KEM hybrid groups in this GnuTLS (") +
		                    gnutls_check_version(nullptr) + ")");
	else if (ordered.empty())
		p->notes_.push_back("ML-KEM hybrid groups: not allowed by the system policy");
	if (std::find(groups.begin(), groups.end(), "X25519") != groups.end())
		ordered.emplace_back("X25519");
	else
		p->notes_.push_back("X25519 is not allowed by the system policy: the key share "
		                    "is for its first group, " +
		                    groups.front());
	for (const auto &g : groups)
		if (std::find(ordered.begin(), ordered.end(), g) == ordered.end())
			ordered.push_back(g);
	std::string group_list = ":-GROUP-ALL";
	for (const auto &g : ordered)
		group_list += ":+GROUP-" + g;

	std::string base = std::string(kRestrict) + group_list + ":-CIPHER-ALL";
	p->appended_ = base + all;
	p->x509_ = TRY(make_priority(base + all));
	p->psk_any_ = TRY(make_priority(base + all + kPskExchange));
	// A PSK of a hash length whose suites the policy disabled gets no
	// priority (psk() returns null) rather than one binding the key to the
	// wrong hash.
	if (!sha256.empty())
		p->psk_sha256_ = TRY(make_priority(base + sha256 + kPskExchange));
	else
		p->notes_.push_back("no SHA-256 suite allowed: 32-byte PSKs cannot be used");
	if (!sha384.empty())
		p->psk_sha384_ = TRY(make_priority(base + sha384 + kPskExchange));
	else
		p->notes_.push_back("no SHA-384 suite (AES-256-GCM) allowed: 48-byte PSKs cannot "
		                    "be used");
	return p;
}

gnutls_priority_t Priorities::psk(size_t key_length) const {
	if (key_length == 32)
		return psk_sha256_.get();
	if (key_length == 48)
		return psk_sha384_.get();
	return psk_any_.get();
}

} // namespace tlsup
