// SPDX-License-Identifier: GPL-2.0
//
// tlsupd's INI configuration: ktls-utils' tlshd keys, so a tlshd
// configuration works unchanged, plus an [agent] section for tuning.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "log.hpp"
#include "result.hpp"

namespace tlsup {

constexpr const char *kDefaultConfigPath = "/etc/tlsupd/tlsupd.conf";
// Tried in order when -c is not given; the tlshd locations let an existing
// ktls-utils installation switch without touching its configuration.
constexpr const char *kConfigSearchPath[] = {kDefaultConfigPath, "/etc/tlshd/config",
                                             "/etc/tlshd.conf"};
constexpr const char *kDefaultControlSocket = "/run/tlsupd/control";

// Per-role x509 material, ktls-utils' [authenticate.client|server].
struct X509Paths {
	std::string truststore;
	std::string crl;
	std::string certificate;
	std::string private_key;
};

struct Config {
	std::string source; // file name, or "" for built-in defaults

	// [agent]
	unsigned workers = 0; // 0: one per online CPU
	unsigned max_inflight = 1024;
	uint32_t default_timeout_ms = 20000;
	// Reverse-DNS name matching of a server certificate when no PEERNAME
	// is given: off unless asked for (anyone who can spoof one PTR answer
	// and holds any certificate the trust store accepts would pass).
	bool reverse_dns = false;
	unsigned reverse_dns_threads = 2;       // the resolver pool (start-up only)
	uint32_t reverse_dns_timeout_ms = 2000; // 0 disables the fallback
	int log_level = kLogInfo;
	std::string control_socket = kDefaultControlSocket;

	// [authenticate] keyrings (names or serials), then .nvme .nfs .nfsd
	std::vector<std::string> keyrings;
	// [authenticate] psk_keyrings (tlsupd): keyrings whose "user" keys are
	// server PSKs too (kernels without the "psk" key type, before 6.7)
	std::vector<std::string> psk_keyrings;
	X509Paths client;
	X509Paths server;

	// "section.key" -> line, so later checks (a file that cannot be read)
	// can name the line too.
	std::map<std::string, int> lines;
	// ktls-utils keys tlsupd accepts but does not act on, for a notice.
	std::vector<std::string> ignored;

	// "FILE:LINE: [section] key" for messages about a configured value.
	std::string where(const std::string &section, const std::string &key) const;
};

// Parses INI text; errors are EINVAL with "FILE:LINE: [section] key: why".
Result<Config> parse_config(std::string_view text, std::string_view filename);

// Reads and parses FILE (at start-up or reload, never on a worker).
Result<Config> load_config_file(const std::string &path);

// -c FILE when given (must exist); else the first of kConfigSearchPath
// that exists; else built-in defaults.
Result<Config> load_config(const std::string &explicit_path);

} // namespace tlsup
