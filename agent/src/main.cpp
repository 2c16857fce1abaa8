// SPDX-License-Identifier: GPL-2.0
//
// tlsupd: performs TLS 1.3 handshakes for kernel consumers (generic netlink
// family "handshake") and hands the sockets back with kTLS installed.
#include <cstdio>
#include <cstdlib>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <sys/resource.h>

#include "agent.hpp"
#include "credentials.hpp"

namespace {

void usage(FILE *out) {
	std::fprintf(out,
	             "usage: tlsupd [-c FILE] [-w WORKERS] [-d] [-t]\n"
	             "  -c FILE     configuration (default %s,\n"
	             "              else /etc/tlshd/config, /etc/tlshd.conf)\n"
	             "  -w WORKERS  worker threads (default: [agent] workers, or one per CPU)\n"
	             "  -d          debug logging\n"
	             "  -t          check the configuration and credentials, then exit\n",
	             tlsup::kDefaultConfigPath);
}

} // namespace

int main(int argc, char **argv) {
	tlsup::AgentOptions opts;
	bool check_only = false;
	int c;
	while ((c = getopt(argc, argv, "c:w:dth")) != -1) {
		switch (c) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'w': {
			char *end = nullptr;
			long v = std::strtol(optarg, &end, 10);
			if (!end || *end || v < 1 || v > 256) {
				std::fprintf(stderr, "tlsupd: -w takes 1..256\n");
				return 2;
			}
			opts.workers_override = static_cast<int>(v);
			break;
		}
		case 'd':
			opts.debug = true;
			break;
		case 't':
			check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	tlsup::Log log;
	// One fd per handshake in flight: take the whole hard limit (systemd
	// leaves the soft limit at 1024).
	rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	if (check_only) {
		auto cfg = tlsup::load_config(opts.config_path);
		if (!cfg) {
			LOG_ERR(log, "%s", cfg.error().reason.c_str());
			return 1;
		}
		auto creds = tlsup::load_credentials(cfg.value());
		if (!creds) {
			LOG_ERR(log, "%s", creds.error().reason.c_str());
			return 1;
		}
		LOG_NOTICE(log, "%s: OK",
		           cfg->source.empty() ? "built-in defaults" : cfg->source.c_str());
		return 0;
	}
	auto agent = tlsup::Agent::create(std::move(opts), log);
	if (!agent) {
		LOG_ERR(log, "cannot start: %s", agent.error().reason.c_str());
		return 1;
	}
	auto r = agent.value()->run();
	if (!r) {
		LOG_ERR(log, "%s", r.error().reason.c_str());
		return 1;
	}
	return 0;
}
