// SPDX-License-Identifier: GPL-2.0
// tlspeer: the GnuTLS peer of tlsup's end-to-end suite, for what gnutls-serv
// and gnutls-cli cannot do: byte-exact binary echo, application data sent
// right behind the Finished message, a silent peer, a peer that hangs up
// mid-handshake, and many parallel connections. One line per connection on
// stdout; exit status 0 only if every connection did what was asked.
//
//   tlspeer server [opts]   listen on --addr/--port, serve --count connections
//   tlspeer client [opts]   connect --count times to --addr/--port
//
// Data is the pattern byte(i) = i * 131 + 17, as tools/testmod checks it.
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
	bool server = false;
	std::string addr = "127.0.0.1";
	int port = 4433;
	std::string cert, key, ca;
	bool require_client_cert = false;
	std::vector<std::pair<std::string, std::string>> psks; // identity, hex key
	std::string servername;
	std::string mode = "echo"; // server only: echo|send|silent|hangup
	size_t send = 0, recv = 0;
	bool early = false; // send data right behind Finished
	int count = 1;
	int concurrency = 0; // client only: connections at once, 0 = all
	std::string priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
	int timeout_s = 30;
	size_t record_size_limit = 0; // RFC 8449: the largest record accepted (0: default)
};

std::mutex out_mu;
std::atomic<int> g_failed{0};

uint8_t pattern(size_t off) {
	return static_cast<uint8_t>(off * 131 + 17);
}

void report(int conn, const std::string &status, const std::string &extra) {
	std::lock_guard g(out_mu);
	if (status != "ok")
		g_failed++;
	std::printf("conn=%d status=%s %s\n", conn, status.c_str(), extra.c_str());
	std::fflush(stdout);
}

[[noreturn]] void die(const char *what, int err) {
	std::fprintf(stderr, "tlspeer: %s: %s\n", what, gnutls_strerror(err));
	std::exit(2);
}

int hexval(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

std::vector<uint8_t> unhex(const std::string &h) {
	std::vector<uint8_t> out;
	for (size_t i = 0; i + 1 < h.size(); i += 2)
		out.push_back(static_cast<uint8_t>(hexval(h[i]) << 4 | hexval(h[i + 1])));
	return out;
}

const Options *g_opts;

int psk_server_cb(gnutls_session_t, const char *username, gnutls_datum_t *key) {
	for (auto &[id, hex] : g_opts->psks) {
		if (id != username)
			continue;
		auto k = unhex(hex);
		key->data = static_cast<unsigned char *>(gnutls_malloc(k.size()));
		std::memcpy(key->data, k.data(), k.size());
		key->size = static_cast<unsigned>(k.size());
		return 0;
	}
	return -1; // unknown identity
}

struct Creds {
	gnutls_certificate_credentials_t x509 = nullptr;
	gnutls_psk_server_credentials_t psk_server = nullptr;
	gnutls_psk_client_credentials_t psk_client = nullptr;
};

Creds make_creds(const Options &o) {
	Creds c;
	int ret;
	if ((ret = gnutls_certificate_allocate_credentials(&c.x509)) < 0)
		die("certificate credentials", ret);
	if (!o.ca.empty() && (ret = gnutls_certificate_set_x509_trust_file(
	                              c.x509, o.ca.c_str(), GNUTLS_X509_FMT_PEM)) < 0)
		die("trust file", ret);
	if (!o.cert.empty() &&
	    (ret = gnutls_certificate_set_x509_key_file(c.x509, o.cert.c_str(), o.key.c_str(),
	                                                GNUTLS_X509_FMT_PEM)) < 0)
		die("certificate/key", ret);
	if (!o.psks.empty()) {
		if (o.server) {
			gnutls_psk_allocate_server_credentials(&c.psk_server);
			gnutls_psk_set_server_credentials_function(c.psk_server, psk_server_cb);
		} else {
			gnutls_psk_allocate_client_credentials(&c.psk_client);
			auto k = unhex(o.psks[0].second);
			gnutls_datum_t key = {k.data(), static_cast<unsigned>(k.size())};
			if ((ret = gnutls_psk_set_client_credentials(c.psk_client,
			                                             o.psks[0].first.c_str(), &key,
			                                             GNUTLS_PSK_KEY_RAW)) < 0)
				die("psk", ret);
		}
	}
	return c;
}

bool wait_fd(int fd, short ev, int timeout_s) {
	pollfd p{fd, ev, 0};
	return poll(&p, 1, timeout_s * 1000) > 0;
}

// Runs the handshake on a connected socket; returns "" or a reason.
std::string handshake(gnutls_session_t s, int timeout_s) {
	int ret;
	gnutls_handshake_set_timeout(s, timeout_s * 1000);
	do {
		ret = gnutls_handshake(s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0) {
		// As real servers do: GnuTLS leaves the alert to the application.
		gnutls_alert_send_appropriate(s, ret);
		std::string r = std::string("handshake:") + gnutls_strerror(ret);
		if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED)
			r += std::string(":") + gnutls_alert_get_name(gnutls_alert_get(s));
		return r;
	}
	return "";
}

std::string send_pattern(gnutls_session_t s, size_t total, size_t &sent) {
	std::vector<uint8_t> buf(16384);
	while (sent < total) {
		size_t n = std::min(buf.size(), total - sent);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(sent + i);
		ssize_t r = gnutls_record_send(s, buf.data(), n);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r < 0)
			return std::string("send:") + gnutls_strerror(static_cast<int>(r));
		sent += static_cast<size_t>(r);
	}
	return "";
}

std::string recv_pattern(gnutls_session_t s, size_t total, size_t &received) {
	std::vector<uint8_t> buf(16384);
	while (received < total) {
		ssize_t r =
		        gnutls_record_recv(s, buf.data(), std::min(buf.size(), total - received));
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r == 0)
			return "recv:eof";
		if (r < 0)
			return std::string("recv:") + gnutls_strerror(static_cast<int>(r));
		for (ssize_t i = 0; i < r; i++)
			if (buf[static_cast<size_t>(i)] !=
			    pattern(received + static_cast<size_t>(i)))
				return "recv:mismatch@" +
				       std::to_string(received + static_cast<size_t>(i));
		received += static_cast<size_t>(r);
	}
	return "";
}

// Echo until the peer closes (or sends close_notify).
std::string echo(gnutls_session_t s, size_t &received, size_t &sent) {
	std::vector<uint8_t> buf(16384);
	for (;;) {
		ssize_t r = gnutls_record_recv(s, buf.data(), buf.size());
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION)
			return "";
		if (r < 0)
			return std::string("recv:") + gnutls_strerror(static_cast<int>(r));
		received += static_cast<size_t>(r);
		size_t off = 0;
		while (off < static_cast<size_t>(r)) {
			ssize_t w = gnutls_record_send(s, buf.data() + off,
			                               static_cast<size_t>(r) - off);
			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
				continue;
			if (w < 0)
				return std::string("send:") + gnutls_strerror(static_cast<int>(w));
			off += static_cast<size_t>(w);
		}
		sent += off;
	}
}

std::string describe(gnutls_session_t s) {
	std::string d = std::string("cipher=") + gnutls_cipher_get_name(gnutls_cipher_get(s));
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	if (certs && n) {
		gnutls_x509_crt_t crt;
		gnutls_x509_crt_init(&crt);
		if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0) {
			gnutls_datum_t dn;
			if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
				d += " peer_dn=" +
				     std::string(reinterpret_cast<char *>(dn.data), dn.size);
				gnutls_free(dn.data);
			}
		}
		gnutls_x509_crt_deinit(crt);
	}
	const char *psk = gnutls_psk_server_get_username(s);
	if (psk)
		d += std::string(" psk_identity=") + psk;
	return d;
}

void serve_one(int conn, int fd, const Options &o, const Creds &c) {
	if (o.mode == "silent") {
		// Hold the connection open and say nothing.
		char b[4096];
		while (wait_fd(fd, POLLIN, o.timeout_s) && read(fd, b, sizeof(b)) > 0)
			;
		close(fd);
		report(conn, "ok", "mode=silent");
		return;
	}
	if (o.mode == "hangup") {
		// Read the ClientHello, then hang up mid-handshake.
		char b[4096];
		if (wait_fd(fd, POLLIN, o.timeout_s))
			(void)!read(fd, b, sizeof(b));
		close(fd);
		report(conn, "ok", "mode=hangup");
		return;
	}
	gnutls_session_t s;
	unsigned flags = GNUTLS_SERVER | (o.early ? GNUTLS_ENABLE_EARLY_START : 0);
	gnutls_init(&s, flags);
	const char *err = nullptr;
	std::string prio = o.priority + (o.psks.empty() ? "" : ":+ECDHE-PSK:+PSK");
	if (gnutls_priority_set_direct(s, prio.c_str(), &err) < 0)
		die("priority", GNUTLS_E_INVALID_REQUEST);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c.x509);
	if (o.record_size_limit)
		gnutls_record_set_max_recv_size(s, o.record_size_limit);
	if (c.psk_server)
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, c.psk_server);
	if (o.require_client_cert)
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(s, fd);

	size_t sent = 0, received = 0;
	std::string why = handshake(s, o.timeout_s);
	if (why.empty() && o.require_client_cert) {
		unsigned status = 0;
		if (gnutls_certificate_verify_peers2(s, &status) < 0 || status)
			why = "client-cert-not-verified";
	}
	if (why.empty()) {
		if (o.mode == "send") {
			// With early start this goes out right behind our Finished,
			// before the client's Finished arrives.
			why = send_pattern(s, o.send, sent);
			if (why.empty() && o.recv)
				why = recv_pattern(s, o.recv, received);
			// Then wait for the client to finish and close, as a real
			// server does: hanging up first would break the client's
			// Finished under early start.
			else if (why.empty())
				why = echo(s, received, sent);
		} else {
			why = echo(s, received, sent);
		}
	}
	std::string extra = describe(s) + " sent=" + std::to_string(sent) +
	                    " received=" + std::to_string(received);
	gnutls_bye(s, GNUTLS_SHUT_WR);
	gnutls_deinit(s);
	close(fd);
	report(conn, why.empty() ? "ok" : "fail:" + why, extra);
}

// The peer's address (--addr, --port): IPv6 if it has a colon.
socklen_t peer_address(const Options &o, sockaddr_storage &ss) {
	ss = {};
	if (o.addr.find(':') != std::string::npos) {
		auto *a = reinterpret_cast<sockaddr_in6 *>(&ss);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(static_cast<uint16_t>(o.port));
		inet_pton(AF_INET6, o.addr.c_str(), &a->sin6_addr);
		return sizeof(*a);
	}
	auto *a = reinterpret_cast<sockaddr_in *>(&ss);
	a->sin_family = AF_INET;
	a->sin_port = htons(static_cast<uint16_t>(o.port));
	inet_pton(AF_INET, o.addr.c_str(), &a->sin_addr);
	return sizeof(*a);
}

int listen_on(const Options &o) {
	sockaddr_storage ss;
	socklen_t len = peer_address(o, ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len) < 0 || listen(fd, 4096) < 0) {
		std::perror("tlspeer: bind/listen");
		std::exit(2);
	}
	return fd;
}

int connect_to(const Options &o) {
	sockaddr_storage ss;
	socklen_t len = peer_address(o, ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	for (int tries = 0; tries < 50; tries++) {
		if (connect(fd, reinterpret_cast<sockaddr *>(&ss), len) == 0)
			return fd;
		usleep(100000);
	}
	close(fd);
	return -1;
}

void client_one(int conn, const Options &o, const Creds &c) {
	int fd = connect_to(o);
	if (fd < 0) {
		report(conn, "fail:connect", "");
		return;
	}
	gnutls_session_t s;
	gnutls_init(&s, GNUTLS_CLIENT);
	const char *err = nullptr;
	std::string prio = o.priority + (o.psks.empty() ? "" : ":+ECDHE-PSK:+PSK");
	if (gnutls_priority_set_direct(s, prio.c_str(), &err) < 0)
		die("priority", GNUTLS_E_INVALID_REQUEST);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c.x509);
	if (o.record_size_limit)
		gnutls_record_set_max_recv_size(s, o.record_size_limit);
	if (c.psk_client)
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, c.psk_client);
	if (!o.servername.empty()) {
		gnutls_server_name_set(s, GNUTLS_NAME_DNS, o.servername.c_str(),
		                       o.servername.size());
		if (!o.ca.empty())
			gnutls_session_set_verify_cert(s, o.servername.c_str(), 0);
	} else if (!o.ca.empty()) {
		gnutls_session_set_verify_cert(s, nullptr, 0);
	}
	gnutls_transport_set_int(s, fd);
	size_t sent = 0, received = 0;
	std::string why = handshake(s, o.timeout_s);
	if (why.empty() && o.send) {
		// The client's Finished has just gone out: this data follows it.
		why = send_pattern(s, o.send, sent);
	}
	if (why.empty() && o.recv)
		why = recv_pattern(s, o.recv, received);
	std::string extra = describe(s) + " sent=" + std::to_string(sent) +
	                    " received=" + std::to_string(received);
	gnutls_bye(s, GNUTLS_SHUT_RDWR);
	gnutls_deinit(s);
	close(fd);
	report(conn, why.empty() ? "ok" : "fail:" + why, extra);
}

Options parse(int argc, char **argv) {
	Options o;
	if (argc < 2 || (std::strcmp(argv[1], "server") && std::strcmp(argv[1], "client"))) {
		std::fprintf(stderr,
		             "usage: tlspeer server|client [--addr A] [--port P] [--cert C "
		             "--key K] [--ca CA] [--require-client-cert] [--psk ID:HEX] "
		             "[--servername N] [--mode echo|send|silent|hangup] [--send N] "
		             "[--recv N] [--early] [--count N] [--concurrency N] [--priority P] "
		             "[--timeout S] [--record-size-limit N]\n");
		std::exit(2);
	}
	o.server = !std::strcmp(argv[1], "server");
	for (int i = 2; i < argc; i++) {
		std::string a = argv[i];
		auto next = [&]() -> std::string {
			if (i + 1 >= argc) {
				std::fprintf(stderr, "tlspeer: %s needs a value\n", a.c_str());
				std::exit(2);
			}
			return argv[++i];
		};
		if (a == "--addr")
			o.addr = next();
		else if (a == "--port")
			o.port = std::stoi(next());
		else if (a == "--cert")
			o.cert = next();
		else if (a == "--key")
			o.key = next();
		else if (a == "--ca")
			o.ca = next();
		else if (a == "--require-client-cert")
			o.require_client_cert = true;
		else if (a == "--psk") {
			std::string v = next();
			// The key is hex; the identity may itself hold ':'.
			auto c = v.rfind(':');
			o.psks.push_back({v.substr(0, c), v.substr(c + 1)});
		} else if (a == "--servername")
			o.servername = next();
		else if (a == "--mode")
			o.mode = next();
		else if (a == "--send")
			o.send = std::stoul(next());
		else if (a == "--recv")
			o.recv = std::stoul(next());
		else if (a == "--early")
			o.early = true;
		else if (a == "--record-size-limit")
			o.record_size_limit = std::stoul(next());
		else if (a == "--count")
			o.count = std::stoi(next());
		else if (a == "--concurrency")
			o.concurrency = std::stoi(next());
		else if (a == "--priority")
			o.priority = next();
		else if (a == "--timeout")
			o.timeout_s = std::stoi(next());
		else {
			std::fprintf(stderr, "tlspeer: unknown option %s\n", a.c_str());
			std::exit(2);
		}
	}
	return o;
}

} // namespace

int main(int argc, char **argv) {
	Options o = parse(argc, argv);
	g_opts = &o;
	// A peer that resets one connection must fail that connection only.
	signal(SIGPIPE, SIG_IGN);
	gnutls_global_init();
	Creds c = make_creds(o);
	std::vector<std::thread> threads;

	if (o.server) {
		int l = listen_on(o);
		std::printf("listening %s:%d\n", o.addr.c_str(), o.port);
		std::fflush(stdout);
		for (int i = 0; i < o.count; i++) {
			if (!wait_fd(l, POLLIN, o.timeout_s)) {
				report(i, "fail:no-connection", "");
				continue;
			}
			int fd = accept(l, nullptr, nullptr);
			if (fd < 0) {
				report(i, "fail:accept", "");
				continue;
			}
			threads.emplace_back([&, i, fd] { serve_one(i, fd, o, c); });
		}
		close(l);
	} else {
		// Each thread takes the next connection number until none is left.
		std::atomic<int> next_conn{0};
		int n = o.concurrency > 0 && o.concurrency < o.count ? o.concurrency : o.count;
		for (int t = 0; t < n; t++)
			threads.emplace_back([&] {
				for (int i; (i = next_conn++) < o.count;)
					client_one(i, o, c);
			});
	}
	for (auto &t : threads)
		t.join();
	return g_failed ? 1 : 0;
}
