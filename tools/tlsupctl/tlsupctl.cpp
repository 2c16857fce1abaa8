// SPDX-License-Identifier: GPL-2.0
//
// tlsupctl: talk to a running tlsupd over its control socket; see
// tlsupctl(8). The socket path comes from the configuration tlsupd reads
// (same file, same search order) unless -s names one. Exit statuses follow
// the LSB's for "status": 3 is "not running".
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <getopt.h>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "control.hpp"
#include "version.hpp"

namespace {

enum Exit : int {
	kOk = 0,
	kFailed = 1, // tlsupd answered with an error (a bad configuration)
	kUsage = 2,
	kNotRunning = 3, // nobody listens on the socket
	kUnknown = 4,    // no permission, or no answer in time
};

void usage(FILE *out) {
	std::fprintf(
	        out,
	        "usage: tlsupctl [OPTION]... COMMAND\n"
	        "Commands:\n"
	        "  status [--json|--raw]  counters and latency of tlsupd, and the kernel's\n"
	        "                         /proc/net/tlsup (also when tlsupd is not running)\n"
	        "  reload                 re-read the configuration; fails, and tlsupd keeps\n"
	        "                         the running one, when the new one is bad\n"
	        "  test-stall-worker N MS test hook: stop worker N's loop for MS ms (needs\n"
	        "                         [agent] test_hooks = true)\n"
	        "Options:\n"
	        "  -c, --config=FILE      configuration to take control_socket from (default:\n"
	        "                         tlsupd's: %s, else %s, %s)\n"
	        "  -s, --socket=PATH      control socket (default: control_socket, else %s)\n"
	        "  -h, --help             this help\n"
	        "  -v, --version          version\n"
	        "Exit status: 0 ok, 1 tlsupd reported an error, 2 usage, 3 tlsupd not running,\n"
	        "4 status unknown (no permission, or no answer).\n",
	        tlsup::kDefaultConfigPath, tlsup::kTlshdLegacyConfigPath, tlsup::kTlshdConfigPath,
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

// ENOENT/ECONNREFUSED: nobody is there. Anything else: we cannot tell.
int unreachable_status(int code) {
	return code == ENOENT || code == ECONNREFUSED || code == ENOTDIR ? kNotRunning : kUnknown;
}

} // namespace

int main(int argc, char **argv) {
	static const option longopts[] = {
	        {"config", required_argument, nullptr, 'c'},
	        {"socket", required_argument, nullptr, 's'},
	        {"help", no_argument, nullptr, 'h'},
	        {"version", no_argument, nullptr, 'v'},
	        {nullptr, 0, nullptr, 0},
	};
	std::string config_path, socket;
	int c;
	// "+": options end at the command, whose own options follow it.
	while ((c = getopt_long(argc, argv, "+c:s:hv", longopts, nullptr)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 's':
			socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return kOk;
		case 'v':
			std::printf("tlsupctl (tlsup) %s\n", tlsup::kVersion);
			return kOk;
		default:
			usage(stderr);
			return kUsage;
		}
	}
	std::vector<std::string> args(argv + optind, argv + argc);
	if (args.empty()) {
		usage(stderr);
		return kUsage;
	}
	std::string cmd = args[0];
	bool json = false, raw = false;
	std::string request = cmd;
	if (cmd == "status") {
		for (size_t i = 1; i < args.size(); i++) {
			if (args[i] == "--json")
				json = true;
			else if (args[i] == "--raw")
				raw = true;
			else {
				usage(stderr);
				return kUsage;
			}
		}
		if (json && raw) {
			usage(stderr);
			return kUsage;
		}
	} else if (cmd == "reload") {
		if (args.size() != 1) {
			usage(stderr);
			return kUsage;
		}
	} else if (cmd == "test-stall-worker") {
		if (args.size() != 3) {
			usage(stderr);
			return kUsage;
		}
		request = "test stall-worker " + args[1] + " " + args[2];
	} else {
		usage(stderr);
		return kUsage;
	}

	if (socket.empty()) {
		auto cfg = tlsup::load_config(config_path);
		if (cfg) {
			socket = cfg->control_socket;
		} else {
			std::fprintf(stderr, "tlsupctl: %s; using %s\n", cfg.error().reason.c_str(),
			             tlsup::kDefaultControlSocket);
			socket = tlsup::kDefaultControlSocket;
		}
	}

	auto reply = tlsup::control_request(socket, request);
	if (!reply) {
		int status = unreachable_status(reply.error().code);
		if (cmd != "status") {
			std::fprintf(stderr, "tlsupctl: %s\n", reply.error().reason.c_str());
			return status;
		}
		// Not running: the errno says it all. Unknown: say what happened.
		std::string why =
		        status == kNotRunning ? strerror(reply.error().code) : reply.error().reason;
		std::string proc = read_proc_net_tlsup();
		if (json)
			std::fputs(
			        tlsup::format_status_json(std::nullopt, socket, why, proc).c_str(),
			        stdout);
		else if (raw)
			std::printf("running 0\n%s%s", proc.empty() ? "" : "# /proc/net/tlsup\n",
			            proc.c_str());
		else
			std::fputs(tlsup::format_agent_down(
			                   socket, why, proc,
			                   status == kNotRunning ? "not running" : "status unknown")
			                   .c_str(),
			           stdout);
		return status;
	}
	if (cmd != "status") {
		bool ok = reply->rfind("ok", 0) == 0;
		if (ok) {
			std::fputs(reply->c_str(), stdout);
			return kOk;
		}
		std::string why = reply->rfind("error ", 0) == 0 ? reply->substr(6) : *reply;
		std::fprintf(stderr, "tlsupctl: %s failed: %s", cmd.c_str(), why.c_str());
		if (cmd == "reload")
			std::fprintf(stderr, "tlsupctl: tlsupd keeps its running configuration\n");
		return kFailed;
	}
	std::string proc = read_proc_net_tlsup();
	if (json) {
		std::fputs(tlsup::format_status_json(tlsup::parse_status(*reply), socket, "", proc)
		                   .c_str(),
		           stdout);
	} else if (raw) {
		std::printf("running 1\n%s", reply->c_str());
		if (!proc.empty())
			std::printf("# /proc/net/tlsup\n%s", proc.c_str());
	} else {
		std::fputs(tlsup::format_status(tlsup::parse_status(*reply), proc).c_str(), stdout);
	}
	return kOk;
}
