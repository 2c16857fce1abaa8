// SPDX-License-Identifier: GPL-2.0
//
// tlsupd as a whole: configuration and credentials, keyrings, the workers,
// the control socket, signals (SIGHUP and SIGUSR1 reload, SIGTERM/SIGINT
// stop) and systemd's notifications and watchdog, all owned here and driven
// from the main thread's loop.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acceptor.hpp"
#include "admission.hpp"
#include "config.hpp"
#include "control.hpp"
#include "credentials.hpp"
#include "deferred_log.hpp"
#include "event_loop.hpp"
#include "file_watch.hpp"
#include "handshake_channel.hpp"
#include "keyring_linker.hpp"
#include "log.hpp"
#include "peer_keys.hpp"
#include "reverse_dns.hpp"
#include "session_tags.hpp"
#include "stats.hpp"
#include "unique_fd.hpp"
#include "worker.hpp"

namespace tlsup {

struct AgentOptions {
	std::string config_path; // -c; empty: search config_search
	ConfigSearch config_search;
	std::string tags_dir = kTlshdTagsDir; // ktls-utils' session tags
	int workers_override = -1;
	bool debug = false;
	// Opens a kernel channel: the acceptor's (NOTIFICATIONS: READY and
	// ACCEPT) or a worker's (DONE); GenlChannel::open by default.
	std::function<Result<std::unique_ptr<HandshakeChannel>>(bool notifications)> open_channel;
	// Whether the kernel side is tlsup.ko; nullopt: found out
	// (kernel_keeps_overflowed_requests()). Tests and the benchmark say.
	std::optional<bool> kernel_is_tlsup_ko;
	// Installs kTLS on a finished handshake's socket; install_ktls by
	// default (the benchmark stubs it where the host has no kTLS).
	std::function<Result<void>(int fd, const TrafficSecrets &)> install;
	// Consumer keyrings linked whenever they appear, and how often the
	// agent looks for those (and configured ones) still missing.
	std::vector<std::string> consumer_keyrings{std::begin(kConsumerKeyrings),
	                                           std::end(kConsumerKeyrings)};
	std::chrono::milliseconds keyring_retry{5000};
	// After a credential file changes, how long to let the rest of a
	// renewal (the key after the certificate) land before re-reading.
	std::chrono::milliseconds credential_settle{1000};
};

class Agent {
public:
	// Everything up to, not including, starting the threads. Fails with a
	// reason naming the file, line and key for configuration problems.
	static Result<std::unique_ptr<Agent>> create(AgentOptions opts, Log &log);
	~Agent();

	// Starts the workers and serves signals and the control socket until
	// SIGTERM/SIGINT (or stop()).
	Result<void> run();
	void stop() { loop_->stop(); }

	// SIGHUP: re-read the configuration; credentials are parsed here, once.
	Result<void> reload();
	StatsSnapshot snapshot() const;

private:
	Agent(AgentOptions opts, Log &log) : opts_(std::move(opts)), log_(log) {}
	Result<void> apply(const Config &cfg, bool initial);
	Result<void> reload_config();
	std::string handle_command(const std::string &cmd);
	std::string handle_test_command(const std::string &cmd);
	void on_swept();
	void watchdog_tick();
	void retry_keyrings();
	void reload_credentials();

	AgentOptions opts_;
	Log &log_;
	Config config_;
	CredentialStore credentials_;
	KeyringStore keyrings_;
	KeyringLinker linker_{opts_.consumer_keyrings};
	std::unique_ptr<Admission> admission_;
	std::unique_ptr<PeerLimit> peer_limit_;
	Stats stats_;
	WorkerSettings settings_;
	std::unique_ptr<ReverseResolver> resolver_;
	std::unique_ptr<PeerCertificateKeys> peer_keys_;
	// The acceptor's log; before what logs to it, so that it outlives them.
	std::unique_ptr<DeferredLog> acceptor_log_;
	std::unique_ptr<AcceptKeyrings> accept_keyrings_;
	std::unique_ptr<WorkerShared> shared_;
	std::vector<std::unique_ptr<Worker>> workers_;
	std::unique_ptr<Acceptor> acceptor_;
	std::unique_ptr<EventLoop> loop_;
	std::unique_ptr<ControlServer> control_;
	UniqueFd signals_;
	uint64_t reloads_ = 0;

	// systemd: READY=1 once the acceptor's start-up sweep ran; WATCHDOG=1
	// while every worker's loop and the acceptor's stamp their heartbeats
	// (main thread only, except the stamps).
	std::chrono::microseconds watchdog_{0};
	std::vector<std::unique_ptr<std::atomic<Clock::rep>>> heartbeats_;
	std::vector<bool> stalled_;
	EventLoop::TimerId watchdog_timer_ = 0;
	EventLoop::TimerId keyring_timer_ = 0;
	std::unique_ptr<FileWatch> files_;
	EventLoop::TimerId files_timer_ = 0;
};

} // namespace tlsup
