// SPDX-License-Identifier: GPL-2.0
//
// tlsupd's configuration: ktls-utils' tlshd keys, read with the parser
// tlshd itself uses (GLib's GKeyFile), so a tlshd configuration means the
// same thing to both, plus an [agent] section for tuning.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "log.hpp"
#include "result.hpp"

namespace tlsup {

constexpr const char *kDefaultConfigPath = "/etc/tlsupd/tlsupd.conf";
// tlshd's own locations, in tlshd's order (ktls-utils 1.3+ main.c): the
// deprecated /etc/tlshd.conf first, then /etc/tlshd/config. Tried after
// kDefaultConfigPath when -c is not given.
constexpr const char *kTlshdLegacyConfigPath = "/etc/tlshd.conf";
constexpr const char *kTlshdConfigPath = "/etc/tlshd/config";
constexpr const char *kDefaultControlSocket = "/run/tlsupd/control";

// Per-role x509 material, ktls-utils' [authenticate.client|server]. Values
// are as GKeyFile returns them; load_config_file() makes relative paths
// absolute. A private key may instead be a GnuTLS URL (is_gnutls_url).
struct X509Paths {
	std::string truststore;
	std::string crl;
	std::string certificate;
	std::string private_key;
	std::string pq_certificate; // x509.pq.certificate (ktls-utils 1.3+)
	std::string pq_private_key; // x509.pq.private_key
};

// Which clients a server x509 handshake accepts, beyond its trust store:
// ktls-utils' [authenticate.server] x509.client_auth and
// x509.client_allowed_sans (development after 1.4).
struct ClientPolicy {
	bool require_certificate = false; // x509.client_auth
	// x509.client_allowed_sans: DNS names (lower case, no trailing dot) or
	// IP literals; a client certificate must carry one of them as a SAN.
	// Empty: any certificate the trust store verifies.
	std::vector<std::string> allowed_sans;
};

struct Config {
	std::string source; // file name, or "" for built-in defaults

	// [agent]
	unsigned workers = 0; // 0: one per online CPU
	unsigned max_inflight = 1024;
	// Once half of those are taken, what one peer (an IPv4 address, an IPv6
	// /64) of a server request may hold; see PeerLimit.
	unsigned max_inflight_per_peer = 64;
	// How much nicer than the acceptor each worker makes itself: a storm's
	// READYs are ACCEPTed before busy workers' handshake steps (0: off).
	unsigned worker_nice = 5;
	// The acceptor runs SCHED_FIFO (thread_priority.hpp): a READY preempts
	// whatever runs, so a storm's submissions are not refused.
	bool acceptor_realtime = true;
	uint32_t default_timeout_ms = 20000;
	// Reverse-DNS name matching of a server certificate when no PEERNAME
	// is given: off unless asked for (anyone who can spoof one PTR answer
	// and holds any certificate the trust store accepts would pass).
	bool reverse_dns = false;
	unsigned reverse_dns_threads = 2;       // the resolver pool (start-up only)
	uint32_t reverse_dns_timeout_ms = 2000; // 0 disables the fallback
	int log_level = kLogInfo;
	std::string control_socket = kDefaultControlSocket;
	// Control commands that exist only for tests (stalling a worker to
	// prove the watchdog); refused unless set.
	bool test_hooks = false;

	// [authenticate] keyrings (names or serials), without .nvme .nfs
	// .nfsd, which are always linked (as tlshd does).
	std::vector<std::string> keyrings;
	// [authenticate] psk_keyrings (tlsupd): keyrings whose "user" keys are
	// server PSKs too (kernels without the "psk" key type, before 6.7)
	std::vector<std::string> psk_keyrings;
	// [authenticate] keyring_owners (tlsupd): users besides root who may
	// own a keyring the two keys above name (user names or uids, resolved
	// when the file is read).
	std::vector<uid_t> keyring_owners;
	X509Paths client;
	X509Paths server;
	ClientPolicy client_policy; // server role only

	// "section.key" of ktls-utils keys tlsupd reads but does not act on.
	std::vector<std::string> ignored;
	// Messages for the log about keys and sections tlsupd does not know, and
	// values it read the way tlshd does (a bad [debug] number is 0).
	std::vector<std::string> notices;
	// Warnings about the file itself: who besides root may replace it, and
	// a PIN in it that others may read.
	std::vector<std::string> warnings;

	// "FILE: [section] key" for messages about a configured value.
	std::string where(const std::string &section, const std::string &key) const;
};

// tlshd's test for "this private key is a URL" (config.c __tlshd_is_url): a
// letter, then letters, digits, '+', '-' or '.', up to a ':'. "pkcs11:...",
// "tpmkey:...".
bool is_gnutls_url(std::string_view value);

// Parses key-file text; errors are EINVAL with "FILE: why". Paths are left
// as written.
Result<Config> parse_config(std::string_view text, std::string_view filename);

// Reads and parses FILE (at start-up or reload, never on a worker); relative
// paths become absolute against the working directory, which is what tlshd's
// open(2) of the same string does.
Result<Config> load_config_file(const std::string &path);

// Where load_config() looks when -c is not given (tests point it elsewhere).
struct ConfigSearch {
	std::string own = kDefaultConfigPath;
	std::string tlshd_legacy = kTlshdLegacyConfigPath;
	std::string tlshd = kTlshdConfigPath;
};

// -c FILE when given (must exist); else search.own if it exists; else
// tlshd's files in tlshd's order; else built-in defaults. A legacy
// /etc/tlshd.conf that does not load is skipped, as tlshd skips it, with a
// notice.
Result<Config> load_config(const std::string &explicit_path, const ConfigSearch &search = {});

} // namespace tlsup
