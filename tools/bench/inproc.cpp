// SPDX-License-Identifier: GPL-2.0
// inproc: the in-process limit the full upcall path is compared with. One
// thread performs N TLS 1.3 client+server handshake pairs with GnuTLS, C at
// a time, with exactly the parameters of the full path (bench_server's on
// the server side; server verification by CA and host name on the client
// side, as tlsupd does), over memory buffers (no system calls) or over
// loopback TCP sockets. Prints one JSON line.
//
//   inproc --transport mem|tcp --count N --concurrency C [--threads T]
//          (--ca CA --cert C --key K | --psk ID:HEX)
//
// --threads T: T such threads at once, each with its share of N and C --
// the limit of T CPUs, against which a guest with T vCPUs is compared.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>
#include <unordered_map>

#include "tls_setup.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct ClientCreds {
	gnutls_certificate_credentials_t x509 = nullptr;
	gnutls_psk_client_credentials_t psk = nullptr;
};

ClientCreds client_creds(const std::string &ca, const bench::Psk *psk) {
	ClientCreds c;
	gnutls_certificate_allocate_credentials(&c.x509);
	if (!ca.empty()) {
		int ret = gnutls_certificate_set_x509_trust_file(c.x509, ca.c_str(),
		                                                 GNUTLS_X509_FMT_PEM);
		if (ret < 0)
			bench::die("trust file", ret);
	}
	if (psk) {
		gnutls_psk_allocate_client_credentials(&c.psk);
		gnutls_datum_t k = {const_cast<unsigned char *>(psk->key.data()),
		                    static_cast<unsigned>(psk->key.size())};
		gnutls_psk_set_client_credentials(c.psk, psk->identity.c_str(), &k,
		                                  GNUTLS_PSK_KEY_RAW);
	}
	return c;
}

gnutls_session_t new_client_session(const ClientCreds &c) {
	gnutls_session_t s;
	gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS);
	gnutls_priority_set_direct(s, c.psk ? bench::kPriorityPsk : bench::kPriority, nullptr);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c.x509);
	if (c.psk) {
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, c.psk);
	} else {
		gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", 9);
		gnutls_session_set_verify_cert(s, "localhost", 0);
	}
	return s;
}

// One client+server pair.
struct Pair {
	gnutls_session_t c = nullptr, s = nullptr;
	bool c_done = false, s_done = false;
	Clock::time_point start;
	// mem transport: bytes in flight each way
	std::deque<unsigned char> to_client, to_server;
	// tcp transport
	int cfd = -1, sfd = -1;
};

// mem transport: each session pushes into its peer's queue.
ssize_t push_to_server(gnutls_transport_ptr_t p, const void *d, size_t n) {
	auto *pair = static_cast<Pair *>(p);
	auto *b = static_cast<const unsigned char *>(d);
	pair->to_server.insert(pair->to_server.end(), b, b + n);
	return static_cast<ssize_t>(n);
}
ssize_t push_to_client(gnutls_transport_ptr_t p, const void *d, size_t n) {
	auto *pair = static_cast<Pair *>(p);
	auto *b = static_cast<const unsigned char *>(d);
	pair->to_client.insert(pair->to_client.end(), b, b + n);
	return static_cast<ssize_t>(n);
}
ssize_t pull(std::deque<unsigned char> &q, gnutls_session_t s, void *d, size_t n) {
	if (q.empty()) {
		gnutls_transport_set_errno(s, EAGAIN);
		return -1;
	}
	size_t k = std::min(n, q.size());
	std::copy_n(q.begin(), k, static_cast<unsigned char *>(d));
	q.erase(q.begin(), q.begin() + static_cast<long>(k));
	return static_cast<ssize_t>(k);
}
ssize_t client_pull(gnutls_transport_ptr_t p, void *d, size_t n) {
	auto *pair = static_cast<Pair *>(p);
	return pull(pair->to_client, pair->c, d, n);
}
ssize_t server_pull(gnutls_transport_ptr_t p, void *d, size_t n) {
	auto *pair = static_cast<Pair *>(p);
	return pull(pair->to_server, pair->s, d, n);
}
int client_pull_timeout(gnutls_transport_ptr_t p, unsigned) {
	return static_cast<Pair *>(p)->to_client.empty() ? 0 : 1;
}
int server_pull_timeout(gnutls_transport_ptr_t p, unsigned) {
	return static_cast<Pair *>(p)->to_server.empty() ? 0 : 1;
}

// Advances one side; false on a fatal error.
bool step(gnutls_session_t s, bool &done) {
	if (done)
		return true;
	int ret = gnutls_handshake(s);
	if (ret == 0)
		done = true;
	else if (gnutls_error_is_fatal(ret)) {
		std::fprintf(stderr, "inproc: handshake: %s\n", gnutls_strerror(ret));
		return false;
	}
	return true;
}

double cpu_seconds() {
	rusage ru{};
	getrusage(RUSAGE_SELF, &ru);
	return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

} // namespace

struct Share {
	std::vector<double> lat_ms;
	long failed = 0;
};

// COUNT pairs, CONCURRENCY at a time, on this thread.
Share run_share(bool tcp, long count, long concurrency, const bench::ServerCreds &sc,
                const ClientCreds &cc) {

	int lfd = -1, ep = -1;
	sockaddr_in laddr{};
	if (tcp) {
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		laddr.sin_family = AF_INET;
		laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof(laddr);
		bind(lfd, reinterpret_cast<sockaddr *>(&laddr), len);
		listen(lfd, 65535);
		getsockname(lfd, reinterpret_cast<sockaddr *>(&laddr), &len);
		ep = epoll_create1(0);
	}

	std::vector<double> lat_ms;
	lat_ms.reserve(static_cast<size_t>(count));
	std::vector<std::unique_ptr<Pair>> active;
	std::unordered_map<int, Pair *> by_fd;
	long started = 0, failed = 0;

	auto start_pair = [&] {
		auto p = std::make_unique<Pair>();
		p->start = Clock::now();
		p->c = new_client_session(cc);
		p->s = bench::new_server_session(sc);
		if (tcp) {
			p->cfd = socket(AF_INET, SOCK_STREAM, 0);
			int one = 1;
			setsockopt(p->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			connect(p->cfd, reinterpret_cast<sockaddr *>(&laddr), sizeof(laddr));
			do {
				p->sfd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
			} while (p->sfd < 0 && errno == EAGAIN);
			setsockopt(p->sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			// Both ends in one thread: neither may block.
			fcntl(p->cfd, F_SETFL, fcntl(p->cfd, F_GETFL) | O_NONBLOCK);
			gnutls_transport_set_int(p->c, p->cfd);
			gnutls_transport_set_int(p->s, p->sfd);
			for (int fd : {p->cfd, p->sfd}) {
				epoll_event e{};
				e.events = EPOLLIN;
				e.data.fd = fd;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				by_fd[fd] = p.get();
			}
		} else {
			gnutls_transport_set_ptr(p->c, p.get());
			gnutls_transport_set_ptr(p->s, p.get());
			gnutls_transport_set_push_function(p->c, push_to_server);
			gnutls_transport_set_push_function(p->s, push_to_client);
			gnutls_transport_set_pull_function(p->c, client_pull);
			gnutls_transport_set_pull_function(p->s, server_pull);
			gnutls_transport_set_pull_timeout_function(p->c, client_pull_timeout);
			gnutls_transport_set_pull_timeout_function(p->s, server_pull_timeout);
		}
		// The client speaks first.
		step(p->c, p->c_done);
		active.push_back(std::move(p));
		started++;
	};
	auto retire = [&](size_t i, bool ok) {
		Pair *p = active[i].get();
		if (ok)
			lat_ms.push_back(
			        std::chrono::duration<double, std::milli>(Clock::now() - p->start)
			                .count());
		else
			failed++;
		gnutls_deinit(p->c);
		gnutls_deinit(p->s);
		if (tcp) {
			by_fd.erase(p->cfd);
			by_fd.erase(p->sfd);
			close(p->cfd);
			close(p->sfd);
		}
		active[i] = std::move(active.back());
		active.pop_back();
	};

	while (started < count && static_cast<long>(active.size()) < concurrency)
		start_pair();
	std::vector<epoll_event> events(1024);
	while (!active.empty()) {
		if (tcp) {
			int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()),
			                   1000);
			for (int i = 0; i < n; i++) {
				auto it = by_fd.find(events[static_cast<size_t>(i)].data.fd);
				if (it == by_fd.end())
					continue;
				Pair *p = it->second;
				bool ok = it->first == p->cfd ? step(p->c, p->c_done)
				                              : step(p->s, p->s_done);
				if (!ok)
					p->c_done = p->s_done = false,
					p->start = Clock::time_point{};
			}
		}
		for (size_t i = 0; i < active.size();) {
			Pair *p = active[i].get();
			bool ok = true;
			if (!tcp)
				ok = step(p->s, p->s_done) && step(p->c, p->c_done);
			else if (p->start == Clock::time_point{})
				ok = false;
			if (!ok || (p->c_done && p->s_done)) {
				retire(i, ok);
				if (started < count)
					start_pair();
				continue;
			}
			i++;
		}
	}
	if (tcp) {
		close(lfd);
		close(ep);
	}
	return {std::move(lat_ms), failed};
}

int main(int argc, char **argv) {
	std::string transport = "mem", ca;
	long count = 100, concurrency = 1, threads = 1;
	bench::TlsOptions tls;
	for (int i = 1; i + 1 < argc; i += 2) {
		std::string a = argv[i], v = argv[i + 1];
		if (a == "--transport")
			transport = v;
		else if (a == "--count")
			count = std::stol(v);
		else if (a == "--concurrency")
			concurrency = std::stol(v);
		else if (a == "--threads")
			threads = std::stol(v);
		else if (a == "--ca")
			ca = v;
		else if (!tls.take(a, v)) {
			std::fprintf(stderr, "inproc: unknown option %s\n", a.c_str());
			return 2;
		}
	}
	gnutls_global_init();
	bench::ServerCreds sc = bench::server_creds(tls.cert, tls.key, tls.psk_or_null());
	ClientCreds cc = client_creds(ca, tls.psk_or_null());
	const bool tcp = transport == "tcp";
	threads = std::max(1L, threads);
	const double cpu0 = cpu_seconds();
	const auto t0 = Clock::now();
	std::vector<Share> shares(static_cast<size_t>(threads));
	std::vector<std::thread> pool;
	for (long t = 0; t < threads; t++) {
		long n = count / threads + (t < count % threads ? 1 : 0);
		long c = std::max(1L, concurrency / threads + (t < concurrency % threads ? 1 : 0));
		pool.emplace_back([&, t, n, c] {
			shares[static_cast<size_t>(t)] = run_share(tcp, n, c, sc, cc);
		});
	}
	for (auto &th : pool)
		th.join();
	std::vector<double> lat_ms;
	long failed = 0;
	for (auto &sh : shares) {
		lat_ms.insert(lat_ms.end(), sh.lat_ms.begin(), sh.lat_ms.end());
		failed += sh.failed;
	}
	const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
	std::sort(lat_ms.begin(), lat_ms.end());
	auto pct = [&](double q) {
		return lat_ms.empty()
		               ? 0.0
		               : lat_ms[std::min(lat_ms.size() - 1,
		                                 static_cast<size_t>(
		                                         q * static_cast<double>(lat_ms.size())))];
	};
	std::printf(
	        "{\"inproc\":{\"transport\":\"%s\",\"auth\":\"%s\",\"count\":%ld,"
	        "\"threads\":%ld,\"concurrency\":%ld,\"ok\":%zu,\"failed\":%ld,\"elapsed_s\":%.3f,"
	        "\"hs_per_s\":%.1f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"cpu_s\":%."
	        "3f}}\n",
	        transport.c_str(), tls.use_psk ? "psk" : "x509", count, threads, concurrency,
	        lat_ms.size(), failed, secs, static_cast<double>(lat_ms.size()) / secs, pct(0.50),
	        pct(0.90), pct(0.99), cpu_seconds() - cpu0);
	return failed ? 1 : 0;
}
