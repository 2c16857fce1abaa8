// SPDX-License-Identifier: GPL-2.0
// agent_cost: what tlsupd itself costs per handshake, measured natively on
// the host where the CPU is real and no kernel is needed. The whole agent
// (tlsup::Agent: its workers, ACCEPT, the handshake engine, peer
// verification, keyrings, DONE, its log) runs against a fake "handshake"
// family (fake_genl_kernel.hpp) that hands it one end of a loopback TCP
// connection; a GnuTLS server thread holds the other end. kTLS is stubbed
// (the host has none): the stub packs both crypto_infos as install_ktls()
// does, and the three setsockopt() calls it skips are added to the count.
// The consumer's end stays open until the agent has closed its copy, as a
// kernel consumer keeps its socket past DONE.
//
// Beside it, in the same process, a bare GnuTLS client does the same
// handshake against the same server with the same priorities and the same
// trust or PSK: that is the yardstick. Both run one handshake at a time,
// in alternating batches; CPU time comes from each thread's CPU clock
// (user + system), so other load on the machine does not enter it.
//
// System calls: every agent thread's, counted by the kernel's
// raw_syscalls:sys_enter tracepoint through perf_event_open (see
// syscall_counter.hpp), per handshake and by name; and per request, which
// of the agent's threads made any (so: how many workers one request woke).
//
//   agent_cost --auth x509|psk --ca CA --cert CERT --key KEY --psk ID:HEX
//              [--rounds R] [--count N] [--workers W] [--concurrency C]
//              [--keyring configured|private|none] [--kernel tlsup|upstream]
//              [--no-cpu] [--no-syscalls]
//              [--max-syscalls S] [--max-keyctl K] [--max-woken W]
//              [--burst N [--pending-bound B]] [--acceptor-nice N]
//              [--worker-nice N] [--no-acceptor-realtime]
//
// --burst N: a reconnect storm in miniature. N requests submitted as fast as
// the driver can, against a kernel that refuses a submission while B
// requests (default 5, upstream's bound with 2 GiB) wait for ACCEPT; a
// refused one is submitted again 1 ms later, as a consumer would retry.
// Reports the refusals and the agent's READY-to-ACCEPT-reply p99 while its
// workers are saturated.
//
// Prints a summary and one JSON line ("agent_cost": {...}). With --max-*,
// exits 1 when a per-handshake count is over the bound (a structural check
// for make check; no time is asserted). AGENT_COST_THREADS=1 in the
// environment also prints each agent thread's calls, per handshake and
// (at concurrency 1) per request.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <keyutils.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <unordered_map>
#include <vector>

#include <uapi/linux/handshake.h>

#include "agent.hpp"
#include "fake_genl_kernel.hpp"
#include "ktls_install.hpp"
#include "priorities.hpp"
#include "syscall_counter.hpp"
#include "tls_setup.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void fail(const std::string &why) {
	std::fprintf(stderr, "agent_cost: %s\n", why.c_str());
	std::exit(2);
}

std::set<pid_t> task_ids() {
	std::set<pid_t> out;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		fail("cannot read /proc/self/task");
	while (dirent *e = readdir(d))
		if (e->d_name[0] != '.')
			out.insert(static_cast<pid_t>(std::atoi(e->d_name)));
	closedir(d);
	return out;
}

std::string thread_name(pid_t tid) {
	std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
	std::string s;
	std::getline(in, s);
	return s;
}

// A thread's CPU time (user + system), ns, by its tid: the clock id glibc's
// pthread_getcpuclockid() builds (CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED).
uint64_t thread_cpu_ns(pid_t tid) {
	clockid_t id = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
	timespec ts{};
	if (clock_gettime(id, &ts) != 0)
		return 0;
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// A thread's user and system time, in clock ticks (/proc/self/task/TID/stat).
std::pair<uint64_t, uint64_t> thread_ticks(pid_t tid) {
	std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
	std::string line;
	std::getline(in, line);
	auto close = line.rfind(')');
	if (close == std::string::npos)
		return {0, 0};
	std::istringstream rest(line.substr(close + 2));
	std::string f;
	uint64_t ut = 0, st = 0;
	for (int i = 3; i <= 15 && rest >> f; i++) {
		if (i == 14)
			ut = std::stoull(f);
		if (i == 15)
			st = std::stoull(f);
	}
	return {ut, st};
}

uint64_t voluntary_switches(pid_t tid) {
	std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/status");
	std::string line;
	while (std::getline(in, line))
		if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
			return std::stoull(line.substr(24));
	return 0;
}

// Whether the thread sits in epoll_wait() (its loop is idle): the first
// field of /proc/self/task/TID/syscall is the call it is blocked in.
bool idle_in_epoll(pid_t tid) {
	std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
	long nr = -1;
	in >> nr;
	return nr == SYS_epoll_wait || nr == SYS_epoll_pwait;
}

uint64_t own_cpu_ns() {
	timespec ts{};
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// ---- the GnuTLS server on the far end of every connection ----

class Server {
public:
	Server(const std::string &cert, const std::string &key, const bench::Psk *psk)
	    : creds_(bench::server_creds(cert, key, psk)) {
		listen_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		addr_.sin_family = AF_INET;
		addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof(addr_);
		if (bind(listen_, reinterpret_cast<sockaddr *>(&addr_), len) < 0 ||
		    listen(listen_, 4096) < 0 ||
		    getsockname(listen_, reinterpret_cast<sockaddr *>(&addr_), &len) < 0)
			fail("server: cannot listen on 127.0.0.1");
		epoll_ = epoll_create1(EPOLL_CLOEXEC);
		add(listen_);
		thread_ = std::thread([this] { run(); });
	}
	~Server() {
		stop_ = true;
		thread_.join();
	}

	// A new connection's client end (blocking, Nagle off as kernel
	// consumers set it).
	int connect_client() const {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, reinterpret_cast<const sockaddr *>(&addr_), sizeof(addr_)) < 0)
			fail(std::string("connect: ") + strerror(errno));
		return fd;
	}
	uint64_t failed() const { return failed_.load(); }

private:
	struct Conn {
		gnutls_session_t s = nullptr;
		bool done = false;
	};
	void add(int fd) {
		epoll_event e{};
		e.events = EPOLLIN;
		e.data.fd = fd;
		epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &e);
	}
	void drop(int fd) {
		auto it = conns_.find(fd);
		if (it != conns_.end()) {
			gnutls_deinit(it->second.s);
			conns_.erase(it);
		}
		epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
		close(fd);
	}
	void run() {
		epoll_event ev[64];
		while (!stop_) {
			int n = epoll_wait(epoll_, ev, 64, 100);
			for (int i = 0; i < n; i++) {
				int fd = ev[i].data.fd;
				if (fd == listen_) {
					int c;
					while ((c = accept4(listen_, nullptr, nullptr,
					                    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
						int one = 1;
						setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one,
						           sizeof(one));
						Conn conn;
						conn.s = bench::new_server_session(creds_);
						gnutls_transport_set_int(conn.s, c);
						conns_[c] = conn;
						add(c);
					}
					continue;
				}
				auto it = conns_.find(fd);
				if (it == conns_.end())
					continue;
				Conn &c = it->second;
				if (c.done) {
					// Held until the client end closes.
					char b[4096];
					ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
					if (r == 0 || (r < 0 && errno != EAGAIN))
						drop(fd);
					continue;
				}
				int ret = gnutls_handshake(c.s);
				if (ret == 0) {
					c.done = true;
				} else if (gnutls_error_is_fatal(ret)) {
					failed_++;
					drop(fd);
				}
			}
		}
		for (auto &[fd, c] : conns_) {
			gnutls_deinit(c.s);
			close(fd);
		}
	}

	bench::ServerCreds creds_;
	int listen_ = -1, epoll_ = -1;
	sockaddr_in addr_{};
	std::unordered_map<int, Conn> conns_;
	std::atomic<bool> stop_{false};
	std::atomic<uint64_t> failed_{0};
	std::thread thread_;
};

// ---- the bare GnuTLS client: the yardstick ----

class BareClient {
public:
	BareClient(const std::string &ca, const bench::Psk *psk, gnutls_priority_t prio)
	    : psk_(psk != nullptr), prio_(prio) {
		gnutls_certificate_allocate_credentials(&x509_);
		if (!ca.empty() && gnutls_certificate_set_x509_trust_file(x509_, ca.c_str(),
		                                                          GNUTLS_X509_FMT_PEM) < 0)
			fail("bare client: cannot read " + ca);
		if (psk) {
			gnutls_psk_allocate_client_credentials(&psk_cred_);
			gnutls_datum_t k = {const_cast<unsigned char *>(psk->key.data()),
			                    static_cast<unsigned>(psk->key.size())};
			gnutls_psk_set_client_credentials(psk_cred_, psk->identity.c_str(), &k,
			                                  GNUTLS_PSK_KEY_RAW);
		}
	}
	// One handshake on FD (blocking); the CPU it took this thread, ns.
	bool handshake(int fd, uint64_t *cpu_ns) {
		rusage r0{}, r1{};
		getrusage(RUSAGE_THREAD, &r0);
		uint64_t c0 = own_cpu_ns();
		gnutls_session_t s;
		gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_KEY_SHARE_TOP | GNUTLS_NO_TICKETS);
		gnutls_priority_set(s, prio_);
		if (psk_) {
			gnutls_credentials_set(s, GNUTLS_CRD_PSK, psk_cred_);
		} else {
			gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, x509_);
			gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
			gnutls_session_set_verify_cert(s, "localhost", 0);
		}
		gnutls_transport_set_int(s, fd);
		int ret;
		do
			ret = gnutls_handshake(s);
		while (ret < 0 && !gnutls_error_is_fatal(ret));
		gnutls_deinit(s);
		*cpu_ns = own_cpu_ns() - c0;
		getrusage(RUSAGE_THREAD, &r1);
		auto us = [](const timeval &t) {
			return static_cast<uint64_t>(t.tv_sec) * 1000000 +
			       static_cast<uint64_t>(t.tv_usec);
		};
		user_us += us(r1.ru_utime) - us(r0.ru_utime);
		sys_us += us(r1.ru_stime) - us(r0.ru_stime);
		if (ret < 0)
			std::fprintf(stderr, "agent_cost: bare client: %s\n", gnutls_strerror(ret));
		return ret == 0;
	}

	uint64_t user_us = 0, sys_us = 0;

private:
	bool psk_;
	gnutls_priority_t prio_;
	gnutls_certificate_credentials_t x509_ = nullptr;
	gnutls_psk_client_credentials_t psk_cred_ = nullptr;
};

struct Options {
	std::string auth = "x509", ca, keyring = "configured", kernel = "tlsup";
	bench::TlsOptions tls;
	int rounds = 10, count = 50, workers = 1, concurrency = 1;
	bool cpu = true, syscalls = true;
	double max_syscalls = 0, max_keyctl = -1, max_woken = 0;
	int burst = 0, pending_bound = 5;
	std::optional<int> acceptor_nice;
	bool acceptor_realtime = true;  // [agent] acceptor_realtime
	std::optional<int> worker_nice; // [agent] worker_nice; the agent's default if unset
};

double median(std::vector<double> v) {
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	return v[v.size() / 2];
}
double quantile(std::vector<double> v, double q) {
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

} // namespace

int main(int argc, char **argv) {
	Options o;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto val = [&]() -> std::string {
			if (i + 1 >= argc)
				fail(a + " wants a value");
			return argv[++i];
		};
		if (a == "--auth")
			o.auth = val();
		else if (a == "--ca")
			o.ca = val();
		else if (a == "--rounds")
			o.rounds = std::stoi(val());
		else if (a == "--count")
			o.count = std::stoi(val());
		else if (a == "--workers")
			o.workers = std::stoi(val());
		else if (a == "--concurrency")
			o.concurrency = std::stoi(val());
		else if (a == "--keyring")
			o.keyring = val();
		else if (a == "--kernel")
			o.kernel = val();
		else if (a == "--no-cpu")
			o.cpu = false;
		else if (a == "--no-syscalls")
			o.syscalls = false;
		else if (a == "--max-syscalls")
			o.max_syscalls = std::stod(val());
		else if (a == "--max-keyctl")
			o.max_keyctl = std::stod(val());
		else if (a == "--max-woken")
			o.max_woken = std::stod(val());
		else if (a == "--burst")
			o.burst = std::stoi(val());
		else if (a == "--pending-bound")
			o.pending_bound = std::stoi(val());
		else if (a == "--acceptor-nice")
			o.acceptor_nice = std::stoi(val());
		else if (a == "--no-acceptor-realtime")
			o.acceptor_realtime = false;
		else if (a == "--worker-nice")
			o.worker_nice = std::stoi(val());
		else if (a.rfind("--", 0) == 0 && i + 1 < argc && o.tls.take(a, argv[i + 1]))
			i++;
		else
			fail("unknown option " + a);
	}
	const bool psk = o.auth == "psk";
	if (psk && !o.tls.use_psk)
		fail("--auth psk wants --psk ID:HEX");
	if (!psk && (o.ca.empty() || o.tls.cert.empty()))
		fail("--auth x509 wants --ca, --cert and --key");
	std::optional<std::string> no_count;
	if (o.syscalls)
		no_count = bench::SyscallCounter::unavailable();

	gnutls_global_init();
	// A session keyring of our own: the agent's process keyring and the
	// PSK live in this process only.
	if (keyctl_join_session_keyring(nullptr) < 0)
		fail(std::string("keyctl_join_session_keyring: ") + strerror(errno));
	key_serial_t ring = 0, psk_key = 0;
	if (psk) {
		ring = add_key("keyring", "agent-cost", nullptr, 0, KEY_SPEC_SESSION_KEYRING);
		key_serial_t where = o.keyring == "none" ? KEY_SPEC_SESSION_KEYRING : ring;
		psk_key = add_key("user", o.tls.psk.identity.c_str(), o.tls.psk.key.data(),
		                  o.tls.psk.key.size(), where);
		if (ring < 0 || psk_key < 0)
			fail(std::string("add_key: ") + strerror(errno));
	}

	char dir[] = "/tmp/agent-cost.XXXXXX";
	if (!mkdtemp(dir))
		fail("mkdtemp");
	std::string conf = std::string(dir) + "/tlsupd.conf";
	{
		std::ofstream f(conf);
		if (!psk)
			f << "[authenticate.client]\nx509.truststore = " << o.ca << "\n";
		if (psk && o.keyring == "configured")
			f << "[authenticate]\nkeyrings = " << ring << "\n";
		f << "[agent]\nworkers = " << o.workers << "\ncontrol_socket = " << dir
		  << "/ctl.sock\n";
		if (o.worker_nice)
			f << "worker_nice = " << *o.worker_nice << "\n";
		if (!o.acceptor_realtime)
			f << "acceptor_realtime = false\n";
	}

	Server server(o.tls.cert, o.tls.key, o.tls.psk_or_null());
	bench::FakeGenlKernel kernel;
	std::set<pid_t> before = task_ids();

	tlsup::Log log;
	tlsup::AgentOptions opts;
	opts.config_path = conf;
	// tlsup.ko names the keyring its ACCEPT links; upstream does not.
	const bool tlsup_ko = o.kernel == "tlsup";
	opts.kernel_is_tlsup_ko = tlsup_ko;
	opts.open_channel =
	        [&](bool notifications) -> tlsup::Result<std::unique_ptr<tlsup::HandshakeChannel>> {
		auto ch = kernel.open_channel(notifications);
		if (!ch)
			return tlsup::make_error(EIO, "fake kernel: no channel");
		return ch;
	};
	// kTLS stubbed: the same packing install_ktls() does, no setsockopt.
	std::atomic<uint64_t> installs{0};
	opts.install = [&](int, const tlsup::TrafficSecrets &t) -> tlsup::Result<void> {
		auto tx = tlsup::pack_crypto_info(t.cipher, t.tx);
		auto rx = tlsup::pack_crypto_info(t.cipher, t.rx);
		if (!tx || !rx)
			return tlsup::make_error(EIO, "kTLS: cannot pack");
		installs++;
		return {};
	};
	const double ktls_setsockopts = 3; // TCP_ULP, TLS_TX, TLS_RX
	auto agent = tlsup::Agent::create(std::move(opts), log);
	if (!agent)
		fail("agent: " + agent.error().reason);
	std::thread agent_thread([&] {
		pthread_setname_np(pthread_self(), "tlsupd-main");
		auto r = agent.value()->run();
		if (!r)
			std::fprintf(stderr, "agent_cost: agent: %s\n", r.error().reason.c_str());
	});
	// Ready once every worker's start-up ACCEPT found the queue empty.
	for (int i = 0; i < 2000 && kernel.counters().eagains < static_cast<uint64_t>(o.workers);
	     i++)
		std::this_thread::sleep_for(1ms);
	std::this_thread::sleep_for(20ms);
	std::vector<pid_t> agent_tids;
	for (pid_t t : task_ids())
		if (!before.count(t))
			agent_tids.push_back(t);
	std::vector<bool> is_worker;
	std::vector<std::string> names;
	for (pid_t t : agent_tids) {
		names.push_back(thread_name(t));
		is_worker.push_back(names.back().rfind("tlsupd-w", 0) == 0);
		// What the acceptor's own priority would buy (tlsupd does not set
		// it: its unit forbids setpriority): the thread's nice value.
		if (o.acceptor_nice && names.back() == "tlsupd-accept" &&
		    setpriority(PRIO_PROCESS, static_cast<id_t>(t), *o.acceptor_nice) < 0)
			fail(std::string("setpriority: ") + strerror(errno));
	}

	auto prios = tlsup::Priorities::create();
	if (!prios)
		fail("priorities: " + prios.error().reason);
	gnutls_priority_t prio =
	        psk ? prios.value()->psk(o.tls.psk.key.size()) : prios.value()->certificate();
	BareClient bare(psk ? "" : o.ca, o.tls.psk_or_null(), prio);

	// Opened once the CPU is measured: every filtered tracepoint event on
	// a thread runs on each of its system calls, and made the agent's CPU
	// look 30% higher (PSK ratio 1.84-1.89 counted, 1.40-1.43 not).
	bench::SyscallCounter counter;

	tlsup::AcceptReply templ;
	templ.message_type = HANDSHAKE_MSG_TYPE_CLIENTHELLO;
	templ.auth_mode = psk ? HANDSHAKE_AUTH_PSK : HANDSHAKE_AUTH_UNAUTH;
	templ.peername = "localhost";
	if (psk)
		templ.peer_identities = {psk_key};
	key_serial_t link = psk && o.keyring != "none" ? ring : 0;

	uint64_t agent_failed = 0, bare_failed = 0, agent_done = 0;
	std::map<std::string, double> by_name; // per handshake, summed over rounds
	double syscalls_total = 0, bare_ratio_rounds = 0;
	std::vector<double> agent_us, bare_us, ratios, woken_per_request;
	// The fake kernel's own CPU on the agent's threads, per handshake, and
	// the ratio without it.
	std::vector<double> fake_us, ratios_less_fake;
	unsigned max_woken_seen = 0;

	// The agent's event-loop threads (workers, acceptor, main), by name; the
	// resolver's threads wait elsewhere.
	auto is_agent_loop = [&](pid_t t) {
		for (size_t i = 0; i < agent_tids.size(); i++)
			if (agent_tids[i] == t)
				return names[i].rfind("tlsupd-", 0) == 0;
		return false;
	};

	// Until every agent loop waits in epoll_wait() again (its request's
	// tail -- the log line, close -- is done), at most 200 ms.
	auto wait_agent_idle = [&] {
		for (int i = 0; i < 2000; i++) {
			bool idle = true;
			for (pid_t t : agent_tids)
				idle = idle && (idle_in_epoll(t) || !is_agent_loop(t));
			if (idle)
				return;
			std::this_thread::sleep_for(100us);
		}
	};

	// N handshakes through the agent, C at a time.
	//
	// The consumer's end is closed only after the batch, once the agent's
	// threads are idle again: a kernel consumer keeps its socket past DONE
	// (it is the kTLS socket now), so the agent's close() is never the last
	// reference and never tears the connection down. Closed at DONE, the
	// consumer's end went first whenever DONE's wake-up let the driver run
	// before the worker's close(), and the worker paid for the TCP close
	// (FIN, the loopback peer's side of it, the socket's freeing: ~20% of
	// its CPU in a PSK handshake, where the bare client, whose close() is
	// not in its measured CPU, paid nothing).
	std::vector<int> consumer_fds;
	auto close_consumers = [&] {
		wait_agent_idle();
		for (int fd : consumer_fds)
			close(fd);
		consumer_fds.clear();
	};
	auto agent_batch = [&](int n, bool per_request_woken) {
		std::unordered_map<uint64_t, int> fds;
		int submitted = 0, finished = 0;
		auto submit_one = [&] {
			int fd = server.connect_client();
			tlsup::AcceptReply r = templ;
			uint64_t id = kernel.submit(std::move(r), fd, link, tlsup_ko);
			fds[id] = fd;
			submitted++;
		};
		while (finished < n) {
			bench::SyscallCounter::Sample s0;
			if (per_request_woken) {
				wait_agent_idle();
				s0 = counter.read();
			}
			while (submitted < n && submitted - finished < o.concurrency)
				submit_one();
			auto d = kernel.wait_done(30s);
			if (!d)
				fail("no DONE within 30 s");
			finished++;
			if (d->status != 0)
				agent_failed++;
			agent_done++;
			consumer_fds.push_back(fds[d->id]);
			fds.erase(d->id);
			if (per_request_woken) {
				// The worker's tail (log, close) belongs to this request:
				// wait until every agent thread is back in its loop's wait.
				wait_agent_idle();
				auto diff = counter.read() - s0;
				unsigned woken = 0;
				for (size_t i = 0; i < diff.per_thread.size(); i++)
					if (is_worker[i] && diff.per_thread[i] > 0)
						woken++;
				woken_per_request.push_back(woken);
				if (getenv("AGENT_COST_THREADS"))
					for (size_t i = 0; i < agent_tids.size(); i++) {
						if (!diff.per_thread[i])
							continue;
						std::printf("  request: %s:", names[i].c_str());
						for (const auto &[k, v] : diff.thread_by_name[i])
							if (v)
								std::printf(
								        " %s %llu", k.c_str(),
								        static_cast<
								                unsigned long long>(
								                v));
						std::printf("\n");
					}
				max_woken_seen = std::max(max_woken_seen, woken);
			}
		}
		close_consumers();
	};

	if (o.burst > 0) {
		kernel.set_pending_bound(static_cast<size_t>(o.pending_bound));
		auto k0 = kernel.counters();
		auto s0 = agent.value()->snapshot();
		std::unordered_map<uint64_t, int> fds;
		auto t0 = Clock::now();
		int submitted = 0, done = 0, failed = 0;
		while (submitted < o.burst) {
			int fd = server.connect_client();
			for (;;) {
				uint64_t id = kernel.try_submit(templ, fd, link, tlsup_ko);
				if (id) {
					fds[id] = fd;
					break;
				}
				std::this_thread::sleep_for(1ms);
			}
			submitted++;
		}
		while (done < o.burst) {
			auto d = kernel.wait_done(60s);
			if (!d)
				fail("burst: no DONE within 60 s");
			done++;
			failed += d->status != 0;
			consumer_fds.push_back(fds[d->id]);
		}
		double secs = std::chrono::duration<double>(Clock::now() - t0).count();
		auto s1 = agent.value()->snapshot();
		close_consumers();
		tlsup::LatencyHistogram::Counts acc{};
		for (size_t i = 0; i < acc.size(); i++)
			acc[i] = s1.accept_latency[i] - s0.accept_latency[i];
		uint64_t refused = kernel.counters().refused - k0.refused;
		std::printf("agent_cost: burst of %d %s requests, %d worker(s), pending bound %d: "
		            "%llu submissions refused, %d failed, %.2f s; READY to ACCEPT reply "
		            "p50 %llu "
		            "us, p99 %llu us\n",
		            o.burst, psk ? "psk" : "x509", o.workers, o.pending_bound,
		            static_cast<unsigned long long>(refused), failed, secs,
		            static_cast<unsigned long long>(
		                    tlsup::LatencyHistogram::quantile(acc, 0.5)),
		            static_cast<unsigned long long>(
		                    tlsup::LatencyHistogram::quantile(acc, 0.99)));
		std::printf("{\"agent_burst\":{\"auth\":\"%s\",\"workers\":%d,\"requests\":%d,"
		            "\"pending_bound\":%d,\"refused\":%llu,\"failed\":%d,\"seconds\":%.3f,"
		            "\"accept_p50_us\":%llu,\"accept_p99_us\":%llu}}\n",
		            psk ? "psk" : "x509", o.workers, o.burst, o.pending_bound,
		            static_cast<unsigned long long>(refused), failed, secs,
		            static_cast<unsigned long long>(
		                    tlsup::LatencyHistogram::quantile(acc, 0.5)),
		            static_cast<unsigned long long>(
		                    tlsup::LatencyHistogram::quantile(acc, 0.99)));
		kernel.set_pending_bound(0);
		agent.value()->stop();
		agent_thread.join();
		return failed ? 1 : 0;
	}

	// Warm up both paths (keys, caches, the peer certificate's key).
	agent_batch(5, false);
	for (int i = 0; i < 5; i++) {
		int fd = server.connect_client();
		uint64_t ns;
		bare.handshake(fd, &ns);
		close(fd);
	}

	uint64_t agent_ut = 0, agent_st = 0, agent_sw = 0;
	std::vector<double> thread_cpu_us(agent_tids.size(), 0.0);
	if (o.cpu) {
		std::vector<std::pair<uint64_t, uint64_t>> t0;
		std::vector<uint64_t> sw0;
		for (pid_t t : agent_tids) {
			t0.push_back(thread_ticks(t));
			sw0.push_back(voluntary_switches(t));
		}
		for (int r = 0; r < o.rounds; r++) {
			auto run_agent = [&] {
				std::vector<uint64_t> c0;
				for (pid_t t : agent_tids)
					c0.push_back(thread_cpu_ns(t));
				uint64_t f0 = kernel.counters().own_cpu_ns;
				agent_batch(o.count, false);
				std::this_thread::sleep_for(2ms);
				uint64_t sum = 0;
				for (size_t i = 0; i < agent_tids.size(); i++) {
					uint64_t d = thread_cpu_ns(agent_tids[i]) - c0[i];
					sum += d;
					thread_cpu_us[i] += static_cast<double>(d) / 1e3;
				}
				agent_us.push_back(static_cast<double>(sum) / 1e3 / o.count);
				fake_us.push_back(
				        static_cast<double>(kernel.counters().own_cpu_ns - f0) /
				        1e3 / o.count);
			};
			auto run_bare = [&] {
				uint64_t sum = 0;
				for (int i = 0; i < o.count; i++) {
					int fd = server.connect_client();
					uint64_t ns = 0;
					if (!bare.handshake(fd, &ns))
						bare_failed++;
					sum += ns;
					close(fd);
				}
				bare_us.push_back(static_cast<double>(sum) / 1e3 / o.count);
			};
			if (r % 2) {
				run_bare();
				run_agent();
			} else {
				run_agent();
				run_bare();
			}
			ratios.push_back(agent_us.back() / bare_us.back());
			ratios_less_fake.push_back((agent_us.back() - fake_us.back()) /
			                           bare_us.back());
		}
		for (size_t i = 0; i < agent_tids.size(); i++) {
			auto t1 = thread_ticks(agent_tids[i]);
			agent_ut += t1.first - t0[i].first;
			agent_st += t1.second - t0[i].second;
			agent_sw += voluntary_switches(agent_tids[i]) - sw0[i];
		}
	}
	(void)bare_ratio_rounds;

	if (o.syscalls && !no_count) {
		counter = bench::SyscallCounter::open(agent_tids);
		if (!counter.ok())
			no_count = counter.error();
	}
	bool counted = o.syscalls && !no_count;
	int counted_handshakes = 0;
	if (counted) {
		int n = std::max(o.count, 20);
		auto k0 = kernel.counters();
		auto s0 = counter.read();
		agent_batch(n, false);
		std::this_thread::sleep_for(5ms);
		auto d = counter.read() - s0;
		auto k1 = kernel.counters();
		// The fake kernel's own calls on the agent's threads: its answers
		// (readv/writev) and its part of ACCEPT (the fd, the keyring link).
		auto drop = [&](const char *name, uint64_t v) {
			v = std::min(v, d.by_name[name]);
			d.by_name[name] -= v;
			d.total -= v;
		};
		drop("readv", d.by_name["readv"]);
		drop("writev", d.by_name["writev"]);
		drop("fcntl", k1.own_fcntl - k0.own_fcntl);
		drop("keyctl", k1.own_keyctl - k0.own_keyctl);
		drop("clock_gettime", k1.own_clock - k0.own_clock);
		counted_handshakes = n;
		if (getenv("AGENT_COST_THREADS"))
			for (size_t i = 0; i < agent_tids.size(); i++) {
				std::printf("  thread %s:", names[i].c_str());
				for (const auto &[k, v] : d.thread_by_name[i])
					if (v)
						std::printf(" %s %.2f", k.c_str(),
						            static_cast<double>(v) / n);
				std::printf("\n");
			}
		syscalls_total = static_cast<double>(d.total) / n + ktls_setsockopts;
		uint64_t named = 0;
		for (const auto &[k, v] : d.by_name) {
			if (v)
				by_name[k] = static_cast<double>(v) / n;
			named += v;
		}
		by_name["setsockopt"] += ktls_setsockopts;
		if (d.total > named)
			by_name["other"] = static_cast<double>(d.total - named) / n;
		// Then one at a time, to see which threads each request woke.
		if (o.concurrency == 1)
			agent_batch(std::min(n, 20), true);
	}

	agent.value()->stop();
	agent_thread.join();
	agent = tlsup::make_error(0, "gone"); // the agent's threads end here

	const char *auth = psk ? "psk" : "x509";
	std::printf("agent_cost: %s, %d worker(s), concurrency %d, keyring %s, kernel %s\n", auth,
	            o.workers, o.concurrency, psk ? o.keyring.c_str() : "-",
	            tlsup_ko ? "tlsup.ko" : "upstream");
	if (o.cpu && getenv("AGENT_COST_THREADS"))
		for (size_t i = 0; i < agent_tids.size(); i++)
			std::printf("  thread %s: %.1f us CPU per handshake\n", names[i].c_str(),
			            thread_cpu_us[i] / (o.rounds * o.count));
	if (o.cpu)
		std::printf(
		        "  CPU per handshake: agent %.0f us, bare GnuTLS client %.0f us "
		        "(medians of %d rounds x %d)\n"
		        "  system share: agent %.0f%% (%.1f sleeps per handshake), bare %.0f%%\n"
		        "  ratio agent/GnuTLS: %.3f (rounds: p10 %.3f, p90 %.3f)\n"
		        "  of the agent's CPU, the fake kernel's own work in its calls: %.0f us; "
		        "ratio without it %.3f\n",
		        median(agent_us), median(bare_us), o.rounds, o.count,
		        100.0 * agent_st / std::max<uint64_t>(1, agent_ut + agent_st),
		        static_cast<double>(agent_sw) / (o.rounds * o.count),
		        100.0 * bare.sys_us / std::max<uint64_t>(1, bare.user_us + bare.sys_us),
		        median(ratios), quantile(ratios, 0.1), quantile(ratios, 0.9),
		        median(fake_us), median(ratios_less_fake));
	if (counted) {
		std::printf("  system calls per handshake (every agent thread, kTLS's 3 setsockopt "
		            "included): %.2f\n   ",
		            syscalls_total);
		std::vector<std::pair<double, std::string>> sorted;
		for (const auto &[k, v] : by_name)
			sorted.push_back({v, k});
		std::sort(sorted.rbegin(), sorted.rend());
		for (const auto &[v, k] : sorted)
			std::printf(" %s %.2f", k.c_str(), v);
		std::printf("\n");
		if (!woken_per_request.empty())
			std::printf("  workers that ran per request: mean %.2f, max %u\n",
			            median(woken_per_request), max_woken_seen);
	} else if (o.syscalls) {
		std::printf("  system calls: not counted: %s\n", no_count->c_str());
	}
	auto kc = kernel.counters();
	std::printf("  handshakes: agent %llu (%llu failed), bare %d (%llu failed); fake kernel: "
	            "%llu READY, %llu ACCEPT, %llu empty ACCEPT\n",
	            static_cast<unsigned long long>(agent_done),
	            static_cast<unsigned long long>(agent_failed), o.cpu ? o.rounds * o.count : 0,
	            static_cast<unsigned long long>(bare_failed),
	            static_cast<unsigned long long>(kc.readies),
	            static_cast<unsigned long long>(kc.accepts),
	            static_cast<unsigned long long>(kc.eagains));

	// One JSON line for the reports.
	std::printf("{\"agent_cost\":{\"auth\":\"%s\",\"workers\":%d,\"concurrency\":%d,"
	            "\"keyring\":\"%s\",\"kernel\":\"%s\",\"rounds\":%d,\"count\":%d",
	            auth, o.workers, o.concurrency, psk ? o.keyring.c_str() : "-",
	            tlsup_ko ? "tlsup.ko" : "upstream", o.rounds, o.count);
	if (o.cpu)
		std::printf(",\"agent_us\":%.1f,\"bare_us\":%.1f,\"ratio\":%.4f,\"ratio_p10\":%.4f,"
		            "\"ratio_p90\":%.4f,\"fake_kernel_us\":%.1f,\"ratio_less_fake\":%.4f",
		            median(agent_us), median(bare_us), median(ratios),
		            quantile(ratios, 0.1), quantile(ratios, 0.9), median(fake_us),
		            median(ratios_less_fake));
	if (counted) {
		std::printf(",\"syscalls\":%.3f,\"by_name\":{", syscalls_total);
		bool first = true;
		for (const auto &[k, v] : by_name) {
			std::printf("%s\"%s\":%.3f", first ? "" : ",", k.c_str(), v);
			first = false;
		}
		std::printf("}");
		if (!woken_per_request.empty())
			std::printf(",\"woken_max\":%u", max_woken_seen);
	}
	std::printf(",\"failed\":%llu}}\n",
	            static_cast<unsigned long long>(agent_failed + bare_failed + server.failed()));
	(void)counted_handshakes;

	int status = agent_failed || bare_failed ? 1 : 0;
	auto over = [&](const char *what, double v, double max) {
		if (max > 0 && v > max + 1e-9) {
			std::printf("agent_cost: FAIL: %s %.2f per handshake, bound %.2f\n", what,
			            v, max);
			status = 1;
		}
	};
	if (counted) {
		over("system calls", syscalls_total, o.max_syscalls);
		if (o.max_keyctl >= 0)
			over("keyctl+add_key", by_name["keyctl"] + by_name["add_key"],
			     o.max_keyctl == 0 ? 1e-9 : o.max_keyctl);
		over("workers woken", max_woken_seen, o.max_woken);
	} else if (o.max_syscalls > 0 || o.max_keyctl >= 0 || o.max_woken > 0) {
		std::printf("agent_cost: cannot check the bounds: %s\n",
		            no_count ? no_count->c_str() : "not counted");
		status = status ? status : 77;
	}
	return status;
}
