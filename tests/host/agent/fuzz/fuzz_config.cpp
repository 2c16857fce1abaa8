// SPDX-License-Identifier: GPL-2.0
//
// libFuzzer: the configuration parser (GLib's GKeyFile plus tlsupd's key
// handling) on arbitrary text. Errors must be EINVAL and name the file;
// accepted values must respect their ranges; notices name the file too.
#include <cstdlib>
#include <string>

#include "config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::string text(reinterpret_cast<const char *>(data), size);
	auto c = tlsup::parse_config(text, "fuzz.conf");
	if (!c) {
		if (c.error().code != EINVAL || c.error().reason.rfind("fuzz.conf: ", 0) != 0)
			std::abort();
		return 0;
	}
	const auto &cfg = c.value();
	if (cfg.workers > 256 || cfg.max_inflight < 1 || cfg.max_inflight > 1000000 ||
	    cfg.default_timeout_ms < 1 || cfg.default_timeout_ms > 3600000 ||
	    cfg.reverse_dns_timeout_ms > 60000 || cfg.log_level < 0 || cfg.log_level > 7 ||
	    cfg.control_socket.empty() || cfg.control_socket[0] != '/' ||
	    cfg.control_socket.size() >= 108)
		std::abort();
	for (const auto &k : cfg.keyrings)
		if (k.empty() || k == ".nvme" || k == ".nfs" || k == ".nfsd")
			std::abort();
	for (const auto &n : cfg.notices)
		if (n.rfind("fuzz.conf: ", 0) != 0)
			std::abort();
	for (const tlsup::X509Paths *r : {&cfg.client, &cfg.server})
		for (const std::string *p :
		     {&r->truststore, &r->crl, &r->certificate, &r->private_key})
			if (p->find('\0') != std::string::npos)
				std::abort();
	return 0;
}
