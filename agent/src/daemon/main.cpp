// SPDX-License-Identifier: GPL-2.0
//
// tlsupd: performs TLS 1.3 handshakes for kernel consumers (generic netlink
// family "handshake") and hands the sockets back with kTLS installed. See
// tlsupd(8) for options, exit statuses and signals.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <uapi/linux/handshake.h>
#include <unistd.h>

#include "agent.hpp"
#include "credentials.hpp"
#include "netlink.hpp"
#include "systemd_notify.hpp"
#include "unique_fd.hpp"
#include "version.hpp"

namespace {

enum Exit : int {
	kOk = 0,
	kFailed = 1, // cannot start, or -t found a problem
	kUsage = 2,
};

void usage(FILE *out) {
	std::fprintf(
	        out,
	        "usage: tlsupd [OPTION]...\n"
	        "TLS 1.3 handshakes for kernel consumers (NFS, NVMe/TCP, ...).\n"
	        "  -c, --config=FILE   configuration (default %s, else %s,\n"
	        "                      %s, else built-in defaults)\n"
	        "  -w, --workers=N     worker threads, 1-256 (default: [agent] workers, or one\n"
	        "                      per CPU)\n"
	        "  -d, --debug         debug logging (wins over the configuration)\n"
	        "  -t, --check         check the configuration and the credentials it names,\n"
	        "                      then exit\n"
	        "  -s, --stderr        accepted for tlshd compatibility; tlsupd always logs\n"
	        "                      to standard error (or the journal)\n"
	        "  -h, --help          this help\n"
	        "  -v, --version       version\n"
	        "Exit status: 0 ok, 1 failure, 2 usage. SIGHUP or SIGUSR1 reloads the\n"
	        "configuration; SIGTERM or SIGINT stops.\n",
	        tlsup::kDefaultConfigPath, tlsup::kTlshdLegacyConfigPath, tlsup::kTlshdConfigPath);
}

int check(const tlsup::AgentOptions &opts, tlsup::Log &log) {
	auto cfg = tlsup::load_config(opts.config_path);
	if (!cfg) {
		LOG_ERR(log, "%s", cfg.error().reason.c_str());
		return kFailed;
	}
	for (const auto &n : cfg->notices)
		LOG_NOTICE(log, "%s", n.c_str());
	for (const auto &w : cfg->warnings)
		LOG_WARN(log, "%s", w.c_str());
	for (const auto &k : cfg->ignored)
		LOG_NOTICE(log, "%s: ktls-utils key [%s] is accepted and ignored",
		           cfg->source.c_str(), k.c_str());
	auto creds = tlsup::load_credentials(cfg.value());
	if (!creds) {
		LOG_ERR(log, "%s", creds.error().reason.c_str());
		return kFailed;
	}
	for (const auto &w : creds.value()->warnings)
		LOG_WARN(log, "%s", w.c_str());
	LOG_NOTICE(log, "%s: OK", cfg->source.empty() ? "built-in defaults" : cfg->source.c_str());
	return kOk;
}

enum class Waited { kGo, kStopped, kFailed };

// Waits for the handshake family if it is missing (main()). Meanwhile: the
// configuration and credentials are checked first (a broken one fails the
// start now, not when the module comes); READY=1 with a STATUS that says
// what it waits for (nothing can submit a handshake before the family
// exists); keep-alives every quarter of the watchdog interval; SIGTERM and
// SIGINT stop it (exit 0), SIGHUP and SIGUSR1 have nothing to reload yet
// and are logged. The signals stay blocked for the agent, which reads them
// from a signalfd of its own.
Waited wait_for_family(const tlsup::AgentOptions &opts, tlsup::Log &log) {
	using namespace std::chrono_literals;
	sigset_t set;
	sigemptyset(&set);
	for (int sig : {SIGHUP, SIGUSR1, SIGTERM, SIGINT})
		sigaddset(&set, sig);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);
	std::signal(SIGPIPE, SIG_IGN);
	tlsup::UniqueFd signals(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
	if (!signals.valid()) {
		LOG_ERR(log, "cannot start: signalfd: %s", strerror(errno));
		return Waited::kFailed;
	}
	bool stop = false, config_bad = false;
	tlsup::FamilyWait how;
	how.waiting = [&] {
		if (check(opts, log) != kOk) {
			config_bad = true;
			return;
		}
		const char *what = "generic netlink family \"" HANDSHAKE_FAMILY_NAME
		                   "\" not found: waiting for it (modprobe tlsup, or a kernel "
		                   "with net/handshake)";
		LOG_NOTICE(log, "%s", what);
		tlsup::systemd::ready(what);
	};
	how.tick = [&] {
		if (config_bad)
			return false;
		tlsup::systemd::watchdog();
		return true;
	};
	auto dog = tlsup::systemd::watchdog_interval();
	if (dog.count() > 0)
		how.tick_every = std::min<std::chrono::milliseconds>(
		        10s, std::chrono::duration_cast<std::chrono::milliseconds>(dog / 4));
	how.stop_fd = signals.get();
	how.stop_readable = [&] {
		signalfd_siginfo si;
		while (::read(signals.get(), &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
				stop = true;
				return false;
			}
			LOG_NOTICE(log,
			           "%s: nothing to reload while waiting for the handshake family",
			           strsignal(static_cast<int>(si.ssi_signo)));
		}
		return true;
	};
	auto family = tlsup::wait_for_genl_family(HANDSHAKE_FAMILY_NAME, how);
	if (stop) {
		tlsup::systemd::stopping();
		LOG_NOTICE(log, "stopped while waiting for the handshake family");
		return Waited::kStopped;
	}
	if (config_bad)
		return Waited::kFailed; // check() said why
	if (!family) {
		LOG_ERR(log, "cannot start: %s", family.error().reason.c_str());
		return Waited::kFailed;
	}
	if (family.value() != tlsup::FamilyFound::kAtOnce)
		LOG_NOTICE(log, "generic netlink family \"%s\" registered (%s): starting",
		           HANDSHAKE_FAMILY_NAME,
		           family.value() == tlsup::FamilyFound::kAnnounced ? "announced"
		                                                            : "asked again");
	return Waited::kGo;
}

} // namespace

int main(int argc, char **argv) {
	static const option longopts[] = {
	        {"config", required_argument, nullptr, 'c'},
	        {"workers", required_argument, nullptr, 'w'},
	        {"debug", no_argument, nullptr, 'd'},
	        {"check", no_argument, nullptr, 't'},
	        {"stderr", no_argument, nullptr, 's'},
	        {"help", no_argument, nullptr, 'h'},
	        {"version", no_argument, nullptr, 'v'},
	        {nullptr, 0, nullptr, 0},
	};
	tlsup::AgentOptions opts;
	bool check_only = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:w:dtshv", longopts, nullptr)) != -1) {
		switch (c) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'w': {
			char *end = nullptr;
			long v = std::strtol(optarg, &end, 10);
			if (!end || *end || end == optarg || v < 1 || v > 256) {
				std::fprintf(stderr, "tlsupd: --workers takes 1..256\n");
				return kUsage;
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
		case 's':
			break;
		case 'h':
			usage(stdout);
			return kOk;
		case 'v':
			std::printf("tlsupd (tlsup) %s, GnuTLS %s\n", tlsup::kVersion,
			            gnutls_check_version(nullptr));
			return kOk;
		default:
			usage(stderr);
			return kUsage;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return kUsage;
	}

	tlsup::Log log;
	// One fd per handshake in flight: take the whole hard limit (systemd
	// leaves the soft limit at 1024).
	rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	if (check_only)
		return check(opts, log);
	// No "handshake" family yet: tlsup.ko is not loaded (apt configures
	// tlsupd before DKMS has built the module; or it was unloaded), or the
	// kernel has neither. Wait for it instead of failing: systemd's
	// restarts would hit the start limit long before DKMS is done.
	switch (wait_for_family(opts, log)) {
	case Waited::kGo:
		break;
	case Waited::kStopped:
		return kOk;
	case Waited::kFailed:
		return kFailed;
	}
	auto agent = tlsup::Agent::create(std::move(opts), log);
	if (!agent) {
		LOG_ERR(log, "cannot start: %s", agent.error().reason.c_str());
		return kFailed;
	}
	auto r = agent.value()->run();
	if (!r) {
		LOG_ERR(log, "%s", r.error().reason.c_str());
		return kFailed;
	}
	return kOk;
}
