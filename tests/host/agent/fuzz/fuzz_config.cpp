// SPDX-License-Identifier: GPL-2.0
//
// libFuzzer: the configuration parser on arbitrary text. Errors must be
// EINVAL and name the file; accepted values must respect their ranges.
#include <cstdlib>
#include <string>

#include "config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::string text(reinterpret_cast<const char *>(data), size);
	auto c = tlsup::parse_config(text, "fuzz.conf");
	if (!c) {
		if (c.error().code != EINVAL || c.error().reason.rfind("fuzz.conf:", 0) != 0)
			std::abort();
		return 0;
	}
	const auto &cfg = c.value();
	if (cfg.workers > 256 || cfg.max_inflight < 1 || cfg.default_timeout_ms < 1 ||
	    cfg.log_level < 0 || cfg.log_level > 7 || cfg.control_socket.empty() ||
	    cfg.control_socket[0] != '/')
		std::abort();
	for (const auto *p : {&cfg.client.truststore, &cfg.client.crl, &cfg.server.certificate})
		if (!p->empty() && (*p)[0] != '/')
			std::abort();
	for (const auto &k : cfg.keyrings)
		if (k.empty())
			std::abort();
	return 0;
}
