// SPDX-License-Identifier: GPL-2.0
//
// tlsupctl: talk to a running tlsupd over its control socket.
//   tlsupctl [-s SOCKET] status [--raw]   counters, latency, /proc/net/tlsup
//   tlsupctl [-s SOCKET] reload           re-read the configuration
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "config.hpp"
#include "control.hpp"

namespace {

void usage(FILE *out) {
	std::fprintf(out,
	             "usage: tlsupctl [-s SOCKET] status [--raw] | reload\n"
	             "  -s SOCKET  control socket (default %s)\n",
	             tlsup::kDefaultControlSocket);
}

std::string read_proc_net_tlsup() {
	std::ifstream in("/proc/net/tlsup");
	if (!in)
		return {};
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

} // namespace

int main(int argc, char **argv) {
	std::string socket = tlsup::kDefaultControlSocket;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!std::strcmp(argv[i], "-s") && i + 1 < argc) {
			socket = argv[++i];
		} else if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	std::string cmd = argv[i++];
	bool raw = i < argc && !std::strcmp(argv[i], "--raw");
	if (raw)
		i++;
	if (i != argc || (cmd != "status" && cmd != "reload")) {
		usage(stderr);
		return 2;
	}
	auto reply = tlsup::control_request(socket, cmd);
	if (!reply) {
		std::fprintf(stderr, "tlsupctl: %s\n", reply.error().reason.c_str());
		return 1;
	}
	if (cmd == "reload") {
		std::fputs(reply->c_str(), reply->rfind("ok", 0) == 0 ? stdout : stderr);
		return reply->rfind("ok", 0) == 0 ? 0 : 1;
	}
	if (raw) {
		std::fputs(reply->c_str(), stdout);
		std::string proc = read_proc_net_tlsup();
		if (!proc.empty())
			std::printf("# /proc/net/tlsup\n%s", proc.c_str());
		return 0;
	}
	std::fputs(tlsup::format_status(tlsup::parse_status(reply.value()), read_proc_net_tlsup())
	                   .c_str(),
	           stdout);
	return 0;
}
