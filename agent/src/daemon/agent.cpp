// SPDX-License-Identifier: GPL-2.0
#include "agent.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "acceptor.hpp"
#include "keyring.hpp"
#include "netlink.hpp"
#include "systemd_notify.hpp"
#include "thread_priority.hpp"
#include "version.hpp"

namespace tlsup {

namespace {

void make_parent_dir(const std::string &path) {
	auto slash = path.rfind('/');
	if (slash == std::string::npos || slash == 0)
		return;
	::mkdir(path.substr(0, slash).c_str(), 0700);
}

} // namespace

Result<std::unique_ptr<Agent>> Agent::create(AgentOptions opts, Log &log) {
	auto agent = std::unique_ptr<Agent>(new Agent(std::move(opts), log));
	Config cfg = TRY(load_config(agent->opts_.config_path, agent->opts_.config_search));
	if (agent->opts_.workers_override >= 0)
		cfg.workers = static_cast<unsigned>(agent->opts_.workers_override);
	if (agent->opts_.debug)
		cfg.log_level = kLogDebug;
	log.set_level(cfg.log_level);
	LOG_INFO(log, "configuration: %s",
	         cfg.source.empty() ? "built-in defaults (no file found)" : cfg.source.c_str());

	// Before any thread exists: see ensure_process_keyring().
	TRY(ensure_process_keyring());
	agent->peer_keys_ =
	        std::make_unique<PeerCertificateKeys>(TRY(PeerCertificateKeys::create()));
	// tlsup.ko or upstream's net/handshake: tlsup.ko keeps a request whose
	// READY overflowed (NETLINK_BROADCAST_ERROR), and names in KEYRING
	// every keyring its ACCEPT links.
	const bool tlsup_ko = agent->opts_.kernel_is_tlsup_ko ? *agent->opts_.kernel_is_tlsup_ko
	                                                      : kernel_keeps_overflowed_requests();
	// The acceptor's lines (and the ACCEPT window's) are written by the
	// main loop: a real-time thread must not wait for the journal.
	agent->loop_ = TRY(EventLoop::create());
	agent->acceptor_log_ = std::make_unique<DeferredLog>(
	        log, [loop = agent->loop_.get()](std::function<void()> task) {
		        loop->post(std::move(task));
	        });
	agent->accept_keyrings_ = TRY(
	        AcceptKeyrings::create(agent->acceptor_log_->log(), tlsup_ko, &agent->keyrings_));
	agent->files_ = TRY(FileWatch::create());
	agent->admission_ = std::make_unique<Admission>(cfg.max_inflight);
	agent->peer_limit_ = std::make_unique<PeerLimit>(cfg.max_inflight_per_peer);
	TRY(agent->apply(cfg, true));

	// Signals go to the signalfd; worker threads inherit the mask.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1); // tlshd's reload signal
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);
	std::signal(SIGPIPE, SIG_IGN);
	agent->signals_.reset(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
	if (!agent->signals_.valid())
		return make_error(errno, "signalfd: %s", strerror(errno));

	agent->resolver_ = std::make_unique<ReverseResolver>(agent->config_.reverse_dns_threads);
	agent->shared_ = std::unique_ptr<WorkerShared>(new WorkerShared{
	        log, agent->credentials_, agent->keyrings_, *agent->admission_, agent->stats_,
	        *agent->resolver_, agent->settings_, *agent->peer_keys_, *agent->accept_keyrings_});
	agent->shared_->peer_limit = agent->peer_limit_.get();
	if (agent->opts_.install)
		agent->shared_->install = agent->opts_.install;

	unsigned n = agent->config_.workers;
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? static_cast<unsigned>(cpus) : 1;
	}
	{
		auto policy = TRY(Priorities::create()); // each worker builds its own
		LOG_INFO(log, "crypto policy: GnuTLS's default priority + \"%s\"",
		         policy->appended().c_str());
		for (const auto &n : policy->notes())
			LOG_NOTICE(log, "crypto policy: %s", n.c_str());
	}
	// One channel per worker (its DONEs) and one for the acceptor, the only
	// socket in the "tlshd" group: a READY wakes the acceptor and then the
	// one worker it hands the request to, never every worker.
	auto open_channel = [&](bool notifications) -> Result<std::unique_ptr<HandshakeChannel>> {
		if (agent->opts_.open_channel)
			return agent->opts_.open_channel(notifications);
		auto g = GenlChannel::open(notifications, tlsup_ko);
		if (!g)
			return g.error();
		if (notifications)
			LOG_NOTICE(log, "%s",
			           g.value()->broadcast_error()
			                   ? "NETLINK_BROADCAST_ERROR on: tlsup.ko keeps a "
			                     "request whose READY overflowed"
			                   : "NETLINK_BROADCAST_ERROR off: this kernel "
			                     "fails a submit whose READY overflows any "
			                     "listener");
		return std::unique_ptr<HandshakeChannel>(std::move(g).value());
	};
	std::vector<Worker *> workers;
	for (unsigned i = 0; i < n; i++) {
		agent->workers_.push_back(
		        TRY(Worker::create(i, *agent->shared_, TRY(open_channel(false)))));
		workers.push_back(agent->workers_.back().get());
	}
	agent->acceptor_ = TRY(Acceptor::create(*agent->shared_, TRY(open_channel(true)),
	                                        std::move(workers), &agent->acceptor_log_->log()));

	Agent *self = agent.get();
	make_parent_dir(agent->config_.control_socket);
	agent->control_ = TRY(ControlServer::open(
	        agent->config_.control_socket, *agent->loop_,
	        [self](const std::string &cmd) { return self->handle_command(cmd); }, log));
	TRY(agent->loop_->watch(agent->files_->fd(), EPOLLIN, [self](uint32_t) {
		if (!self->files_->changed() || self->files_timer_)
			return;
		self->files_timer_ =
		        self->loop_->add_timer(Clock::now() + self->opts_.credential_settle,
		                               [self] { self->reload_credentials(); });
	}));
	TRY(agent->loop_->watch(agent->signals_.get(), EPOLLIN, [self](uint32_t) {
		signalfd_siginfo si;
		while (::read(self->signals_.get(), &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP || si.ssi_signo == SIGUSR1) {
				if (auto r = self->reload(); !r)
					LOG_ERR(self->log_,
					        "reload failed, keeping the old "
					        "configuration: %s",
					        r.error().reason.c_str());
			} else {
				LOG_NOTICE(self->log_, "signal %u: stopping", si.ssi_signo);
				self->loop_->stop();
			}
		}
	}));
	return agent;
}

Agent::~Agent() {
	// The acceptor first (nothing new is handed over), the workers next
	// (their requests in flight get DONE), then the resolver whose replies
	// post to worker loops, then the loops themselves.
	if (acceptor_)
		acceptor_->stop();
	for (auto &w : workers_)
		w->stop();
	// No real-time thread is left, and the loop goes before the log:
	// what is still to be logged is written at once.
	if (acceptor_log_)
		acceptor_log_->write_directly();
	resolver_.reset();
	workers_.clear();
	control_.reset();
}

Result<void> Agent::apply(const Config &cfg, bool initial) {
	for (const auto &k : cfg.ignored)
		LOG_NOTICE(log_, "%s: ktls-utils key [%s] is accepted and ignored",
		           cfg.source.c_str(), k.c_str());
	for (const auto &n : cfg.notices)
		LOG_NOTICE(log_, "%s", n.c_str());
	for (const auto &w : cfg.warnings)
		LOG_WARN(log_, "%s", w.c_str());
	// tlshd reads tag definitions here and sends matching tags in DONE; no
	// kernel tlsupd runs on passes them to a consumer.
	for (const auto &f : session_tag_files(opts_.tags_dir))
		LOG_WARN(log_,
		         "%s: session tags are not applied: tlsupd sends no DONE TAG attribute "
		         "(Linux 6.12 refuses it, tlsup.ko ignores it); see tlsupd.conf(5)",
		         f.c_str());
	// A configured keyring that does not exist is a warning, as in tlshd,
	// and is linked when it appears (retry_keyrings); so is a consumer's.
	// Linked into tlsupd:linked, not the process keyring: no ACCEPT window
	// sees it, so no lock.
	// Before the keyrings: set() replaces what the linker holds and
	// checks again at each tick, and publishes it, so nothing may fail
	// after it (a failed reload keeps the old snapshot, which the tick
	// must go on checking).
	auto creds = TRY(load_credentials(cfg));
	for (const auto &w : creds->warnings)
		LOG_WARN(log_, "%s", w.c_str());
	LOG_INFO(log_, "credentials: client %u CA(s) %u CRL(s)%s, server %u CA(s) %u CRL(s)%s",
	         creds->client.ca_count, creds->client.crl_count,
	         creds->client.identity ? " + certificate" : "", creds->server.ca_count,
	         creds->server.crl_count, creds->server.identity ? " + certificate" : "");
	// Published before set() logs what changed, as at the tick: a request
	// that starts after "refused" or "linked" sees it so, with the new
	// credentials, and the lines go out at the new level. set() publishes
	// only once it cannot fail: a bad reload leaves the old state (set()
	// undoes its own links).
	auto linked =
	        linker_.set(cfg.keyrings, cfg.psk_keyrings, cfg.where("authenticate", ""), log_,
	                    KeyringTrust{cfg.keyring_owners}, [&](const LinkedKeyrings &l) {
		                    credentials_.replace(std::move(creds));
		                    log_.set_level(cfg.log_level);
		                    if (acceptor_log_)
			                    acceptor_log_->set_level(cfg.log_level);
		                    keyrings_.replace(l);
	                    });
	if (!linked)
		return Error{linked.error().code,
		             cfg.where("authenticate", "keyrings") + ": " + linked.error().reason};
	std::vector<std::string> files;
	for (const X509Paths *p : {&cfg.client, &cfg.server})
		for (const std::string *f :
		     {&p->truststore, &p->crl, &p->certificate, &p->private_key, &p->pq_certificate,
		      &p->pq_private_key})
			if (!f->empty() && !is_gnutls_url(*f))
				files.push_back(*f);
	if (auto w = files_->watch(files); !w)
		LOG_WARN(log_, "certificate files are not watched for renewal: %s",
		         w.error().reason.c_str());
	settings_.default_timeout_ms.store(cfg.default_timeout_ms);
	settings_.reverse_dns.store(cfg.reverse_dns && cfg.reverse_dns_timeout_ms > 0);
	settings_.reverse_dns_timeout_ms.store(cfg.reverse_dns_timeout_ms);
	if (settings_.reverse_dns.load())
		LOG_NOTICE(log_, "reverse DNS name matching is on: without PEERNAME, a server "
		                 "certificate may match a name a PTR lookup gave");
	admission_->set_limit(cfg.max_inflight);
	peer_limit_->set_limit(cfg.max_inflight_per_peer);
	if (!initial) {
		if (cfg.workers != config_.workers)
			LOG_NOTICE(log_, "workers changes at the next restart");
		if (cfg.worker_nice != config_.worker_nice)
			LOG_NOTICE(log_, "worker_nice changes at the next restart");
		if (cfg.acceptor_realtime != config_.acceptor_realtime)
			LOG_NOTICE(log_, "acceptor_realtime changes at the next restart");
		if (cfg.control_socket != config_.control_socket)
			LOG_NOTICE(log_, "control_socket changes at the next restart");
		if (cfg.reverse_dns_threads != config_.reverse_dns_threads)
			LOG_NOTICE(log_, "reverse_dns_threads changes at the next restart");
		Config kept = cfg;
		kept.workers = config_.workers;
		kept.worker_nice = config_.worker_nice;
		kept.acceptor_realtime = config_.acceptor_realtime;
		kept.control_socket = config_.control_socket;
		kept.reverse_dns_threads = config_.reverse_dns_threads;
		config_ = std::move(kept);
	} else {
		config_ = cfg;
	}
	return {};
}

Result<void> Agent::reload() {
	// systemd (Type=notify) shows the unit as reloading until READY=1,
	// which follows whether the new configuration was taken or not.
	systemd::reloading();
	auto r = reload_config();
	systemd::ready(r ? "serving; configuration reloaded"
	                 : "serving with the previous configuration; reload failed: " +
	                               r.error().reason);
	return r;
}

Result<void> Agent::reload_config() {
	// The file chosen at start-up, as tlshd reloads the path it loaded;
	// without one, search again (a file may have been created since).
	Config cfg = config_.source.empty()
	                     ? TRY(load_config(opts_.config_path, opts_.config_search))
	                     : TRY(load_config_file(config_.source));
	LOG_NOTICE(log_, "reloading configuration from %s",
	           cfg.source.empty() ? "built-in defaults" : cfg.source.c_str());
	if (opts_.debug)
		cfg.log_level = kLogDebug;
	TRY(apply(cfg, false));
	if (!keyring_timer_)
		retry_keyrings(); // keyrings the new configuration names, if missing
	reloads_++;
	LOG_NOTICE(log_, "configuration reloaded");
	return {};
}

StatsSnapshot Agent::snapshot() const {
	StatsSnapshot s = stats_.snapshot();
	s.inflight = admission_->inflight();
	s.max_inflight = admission_->limit();
	s.workers = static_cast<unsigned>(workers_.size());
	return s;
}

std::string Agent::handle_command(const std::string &cmd) {
	if (cmd == "status") {
		std::string out = std::string("version ") + kVersion + "\n" + snapshot().render();
		out += "config " + (config_.source.empty() ? std::string("-") : config_.source) +
		       "\n";
		out += "reloads " + std::to_string(reloads_) + "\n";
		return out;
	}
	if (cmd == "reload") {
		auto r = reload();
		return r ? "ok\n" : "error " + r.error().reason + "\n";
	}
	if (cmd.rfind("test ", 0) == 0) {
		if (!config_.test_hooks)
			return "error test commands are disabled ([agent] test_hooks = false)\n";
		return handle_test_command(cmd.substr(5));
	}
	return "error unknown command '" + cmd + "' (status, reload)\n";
}

// "stall-worker N MS": worker N's loop sleeps, as a stuck worker would, so
// a test can watch the watchdog withhold its keep-alive.
std::string Agent::handle_test_command(const std::string &cmd) {
	unsigned long n = 0, ms = 0;
	char tail = 0;
	if (std::sscanf(cmd.c_str(), "stall-worker %lu %lu%c", &n, &ms, &tail) != 2)
		return "error unknown test command '" + cmd + "' (stall-worker N MS)\n";
	if (n >= workers_.size() || ms < 1 || ms > 600000)
		return "error stall-worker: N must be below " + std::to_string(workers_.size()) +
		       ", MS within 1..600000\n";
	LOG_WARN(log_, "test hook: worker %lu stalls for %lu ms", n, ms);
	workers_[n]->loop().post(
	        [ms] { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); });
	return "ok worker " + std::to_string(n) + " stalls for " + std::to_string(ms) + " ms\n";
}

void Agent::on_swept() {
	std::string what = std::to_string(workers_.size()) + " worker(s) accepting, up to " +
	                   std::to_string(admission_->limit()) + " handshakes in flight";
	LOG_INFO(log_, "ready: %s", what.c_str());
	systemd::ready(what);
}

void Agent::watchdog_tick() {
	// Each worker stamps its heartbeat from its own loop; the keep-alive
	// goes only while every stamp is recent, so one stuck loop is enough
	// for systemd to restart the agent.
	auto now = Clock::now();
	bool all_fresh = true;
	// The workers' loops, then the acceptor's.
	for (size_t i = 0; i <= workers_.size(); i++) {
		bool acceptor = i == workers_.size();
		auto last = Clock::time_point(Clock::duration(heartbeats_[i]->load()));
		if (now - last > watchdog_ / 2) {
			all_fresh = false;
			if (!stalled_[i])
				LOG_WARN(log_,
				         "%s%s: its loop has not run for %lld ms; no watchdog "
				         "keep-alive until it does",
				         acceptor ? "the acceptor" : "worker ",
				         acceptor ? "" : std::to_string(i).c_str(),
				         static_cast<long long>(
				                 std::chrono::duration_cast<
				                         std::chrono::milliseconds>(now - last)
				                         .count()));
			stalled_[i] = true;
		} else {
			stalled_[i] = false;
		}
		std::atomic<Clock::rep> *beat = heartbeats_[i].get();
		EventLoop &loop = acceptor ? acceptor_->loop() : workers_[i]->loop();
		loop.post([beat] { beat->store(Clock::now().time_since_epoch().count()); });
	}
	if (all_fresh)
		systemd::watchdog();
	auto period = std::max<Clock::duration>(watchdog_ / 4, std::chrono::milliseconds(1));
	watchdog_timer_ = loop_->add_timer(now + period, [this] { watchdog_tick(); });
}

void Agent::reload_credentials() {
	files_timer_ = 0;
	auto creds = load_credentials(config_);
	if (!creds) {
		LOG_WARN(log_,
		         "a certificate file changed, but the credentials do not load: %s; "
		         "keeping the previous ones",
		         creds.error().reason.c_str());
		return;
	}
	for (const auto &w : creds.value()->warnings)
		LOG_WARN(log_, "%s", w.c_str());
	credentials_.replace(std::move(creds).value());
	LOG_NOTICE(log_, "certificate files changed: credentials reloaded");
}

void Agent::retry_keyrings() {
	keyring_timer_ = 0;
	// Published before the lines that say what changed (a test, or an
	// administrator, acting on "no longer trusted" finds it so).
	linker_.retry(log_, [this](const LinkedKeyrings &l) { keyrings_.replace(l); });
	if (linker_.watching() && loop_)
		keyring_timer_ = loop_->add_timer(Clock::now() + opts_.keyring_retry,
		                                  [this] { retry_keyrings(); });
}

Result<void> Agent::run() {
	auto start = Clock::now().time_since_epoch().count();
	heartbeats_.clear();
	stalled_.assign(workers_.size() + 1, false);
	for (size_t i = 0; i <= workers_.size(); i++)
		heartbeats_.push_back(std::make_unique<std::atomic<Clock::rep>>(start));
	for (auto &w : workers_)
		w->start(config_.worker_nice);
	// READY=1 once the start-up sweep (ACCEPT until -EAGAIN) has run; the
	// acceptor joined the group when its channel opened.
	acceptor_->start([this] { loop_->post([this] { on_swept(); }); },
	                 config_.acceptor_realtime);
	// The threads are started: this one leaves a real-time policy the
	// service was started with (the acceptor keeps it), and whatever it
	// starts later runs SCHED_OTHER.
	if (auto r = leave_realtime(); !r)
		LOG_WARN(log_, "main thread: %s", r.error().reason.c_str());
	LOG_NOTICE(log_, "tlsupd running: %zu worker(s), up to %u handshakes in flight",
	           workers_.size(), admission_->limit());
	watchdog_ = systemd::watchdog_interval();
	if (watchdog_.count() > 0) {
		LOG_INFO(
		        log_, "systemd watchdog: keep-alive every %lld ms while every worker runs",
		        static_cast<long long>(
		                std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_ / 4)
		                        .count()));
		watchdog_tick();
	}
	retry_keyrings();
	auto r = loop_->run();
	systemd::stopping();
	return r;
}

} // namespace tlsup
