// SPDX-License-Identifier: GPL-2.0
// bench_server: an event-driven GnuTLS TLS 1.3 server for the benchmarks:
// one epoll loop, non-blocking handshakes, thousands of connections. After
// its handshake a connection stays open until the client closes it: the
// client's agent attaches kTLS after the handshake, which the kernel
// refuses on a socket the peer has already shut. On SIGTERM (or after
// --max handshakes and their closes) it prints one JSON line.
//
//   bench_server --port P [--addr A] --cert C --key K [--psk ID:HEX] [--max N]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "tls_setup.hpp"

namespace {

volatile sig_atomic_t g_stop = 0;

void on_signal(int) {
	g_stop = 1;
}

struct Conn {
	int fd;
	gnutls_session_t s;
	bool handshaken;
};

} // namespace

int main(int argc, char **argv) {
	std::string addr = "127.0.0.1";
	int port = 4433;
	long max = 0;
	bench::TlsOptions tls;
	for (int i = 1; i + 1 < argc; i += 2) {
		std::string a = argv[i], v = argv[i + 1];
		if (tls.take(a, v))
			continue;
		if (a == "--port")
			port = std::stoi(v);
		else if (a == "--addr")
			addr = v;
		else if (a == "--max")
			max = std::stol(v);
		else {
			std::fprintf(stderr, "bench_server: unknown option %s\n", a.c_str());
			return 2;
		}
	}
	gnutls_global_init();
	bench::ServerCreds creds = bench::server_creds(tls.cert, tls.key, tls.psk_or_null());
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	int l = socket(addr.find(':') == std::string::npos ? AF_INET : AF_INET6,
	               SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sockaddr_storage ss{};
	socklen_t len;
	if (addr.find(':') == std::string::npos) {
		auto *a = reinterpret_cast<sockaddr_in *>(&ss);
		a->sin_family = AF_INET;
		a->sin_port = htons(static_cast<uint16_t>(port));
		inet_pton(AF_INET, addr.c_str(), &a->sin_addr);
		len = sizeof(*a);
	} else {
		auto *a = reinterpret_cast<sockaddr_in6 *>(&ss);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(static_cast<uint16_t>(port));
		inet_pton(AF_INET6, addr.c_str(), &a->sin6_addr);
		len = sizeof(*a);
	}
	if (bind(l, reinterpret_cast<sockaddr *>(&ss), len) < 0 || listen(l, 65535) < 0) {
		std::perror("bench_server: bind/listen");
		return 2;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	epoll_event ev{};
	ev.events = EPOLLIN;
	ev.data.fd = l;
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	std::printf("listening %s:%d\n", addr.c_str(), port);
	std::fflush(stdout);

	std::unordered_map<int, Conn> conns;
	long handshakes = 0, failures = 0, closed = 0;
	auto finish = [&](Conn &c, bool ok) {
		if (!c.handshaken)
			ok ? handshakes++ : failures++;
		closed++;
		epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
		gnutls_deinit(c.s);
		close(c.fd);
		conns.erase(c.fd);
	};
	auto step = [&](Conn &c) {
		if (c.handshaken) {
			// Only the client's close (or its close_notify) is expected.
			char buf[4096];
			int r;
			while ((r = static_cast<int>(gnutls_record_recv(c.s, buf, sizeof(buf)))) >
			       0)
				;
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				return;
			finish(c, true);
			return;
		}
		int ret = gnutls_handshake(c.s);
		if (ret == 0) {
			handshakes++;
			c.handshaken = true;
			epoll_event e{};
			e.events = EPOLLIN;
			e.data.fd = c.fd;
			epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
			return;
		}
		if (gnutls_error_is_fatal(ret)) {
			gnutls_alert_send_appropriate(c.s, ret);
			finish(c, false);
			return;
		}
		epoll_event e{};
		e.events = gnutls_record_get_direction(c.s) ? EPOLLOUT : EPOLLIN;
		e.data.fd = c.fd;
		epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
	};

	std::vector<epoll_event> events(1024);
	while (!g_stop && (!max || closed < max)) {
		int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
		for (int i = 0; i < n; i++) {
			int fd = events[static_cast<size_t>(i)].data.fd;
			if (fd == l) {
				int c;
				while ((c = accept4(l, nullptr, nullptr,
				                    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					Conn conn{c, bench::new_server_session(creds), false};
					gnutls_transport_set_int(conn.s, c);
					epoll_event e{};
					e.events = EPOLLIN;
					e.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
					conns.emplace(c, conn);
				}
				continue;
			}
			auto it = conns.find(fd);
			if (it != conns.end())
				step(it->second);
		}
	}
	rusage ru{};
	getrusage(RUSAGE_SELF, &ru);
	double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	             static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	std::printf("{\"bench_server\":{\"handshakes\":%ld,\"failures\":%ld,\"cpu_s\":%.3f,"
	            "\"maxrss_kib\":%ld}}\n",
	            handshakes, failures, cpu, ru.ru_maxrss);
	return failures ? 1 : 0;
}
