// SPDX-License-Identifier: GPL-2.0
#include "test_support.hpp"

#include <arpa/inet.h>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gnutls/crypto.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <sstream>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace tlsup::test {

namespace {

class PkiHolder {
public:
	PkiHolder() {
		char tmpl[] = "/tmp/tlsup-pki.XXXXXX";
		if (!mkdtemp(tmpl))
			std::abort();
		dir = tmpl;
		std::string cmd = std::string(TLSUP_MAKE_PKI) + " " + dir;
		if (std::system(cmd.c_str()) != 0) {
			std::fprintf(stderr, "make_pki.sh failed\n");
			std::abort();
		}
	}
	~PkiHolder() { std::filesystem::remove_all(dir); }
	std::string dir;
};

std::string slurp(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

gnutls_datum_t datum(const std::string &s) {
	return {reinterpret_cast<unsigned char *>(const_cast<char *>(s.data())),
	        static_cast<unsigned>(s.size())};
}

} // namespace

const Pki &Pki::get() {
	static PkiHolder holder;
	static Pki pki = [] {
		Pki p;
		p.dir_ = holder.dir;
		return p;
	}();
	return pki;
}

std::string Pki::pem(const std::string &file) const {
	return slurp(path(file));
}

std::vector<uint8_t> Pki::cert_der(const std::string &name) const {
	std::string text = pem(name + ".pem");
	gnutls_x509_crt_t crt;
	gnutls_x509_crt_init(&crt);
	gnutls_datum_t d = datum(text);
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0)
		std::abort();
	gnutls_datum_t out{};
	gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &out);
	std::vector<uint8_t> der(out.data, out.data + out.size);
	gnutls_free(out.data);
	gnutls_x509_crt_deinit(crt);
	return der;
}

std::vector<uint8_t> Pki::key_der(const std::string &name) const {
	std::string text = pem(name + ".key");
	gnutls_x509_privkey_t key;
	gnutls_x509_privkey_init(&key);
	gnutls_datum_t d = datum(text);
	if (gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, nullptr, 0) < 0)
		std::abort();
	gnutls_datum_t out{};
	gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, nullptr, GNUTLS_PKCS_PLAIN,
	                                  &out);
	std::vector<uint8_t> der(out.data, out.data + out.size);
	gnutls_free(out.data);
	gnutls_x509_privkey_deinit(key);
	return der;
}

namespace {

struct SoftHsmHolder {
	SoftHsmHolder() {
		if (std::system("command -v softhsm2-util >/dev/null && command -v p11tool "
		                ">/dev/null") != 0) {
			skip = "softhsm2-util or p11tool (softhsm2, gnutls-bin) not installed";
			return;
		}
		char d[] = "/tmp/tlsupd-hsm.XXXXXX";
		if (!mkdtemp(d))
			std::abort();
		dir = d;
		std::filesystem::create_directories(dir + "/tokens");
		std::ofstream(dir + "/softhsm2.conf") << "directories.tokendir = " << dir
		                                      << "/tokens\nobjectstore.backend = file\n";
		// A private token, never the host's: set before GnuTLS first loads
		// the modules (p11-kit's softhsm2 module reads it), which nothing in
		// a test binary does before it asks for the token.
		setenv("SOFTHSM2_CONF", (dir + "/softhsm2.conf").c_str(), 1);
		std::string init =
		        std::string("softhsm2-util --init-token --free --label tlsupd-test "
		                    "--pin ") +
		        kTokenPin + " --so-pin 4321 >/dev/null";
		if (std::system(init.c_str()) != 0 || !softhsm_write_key("server", "srv"))
			skip = "SoftHSM token set-up failed";
	}
	~SoftHsmHolder() {
		if (!dir.empty())
			std::filesystem::remove_all(dir);
	}
	std::string dir, skip;
};

} // namespace

const std::string &softhsm_token() {
	static SoftHsmHolder holder;
	return holder.skip;
}

bool softhsm_write_key(const std::string &name, const std::string &label) {
	static int id = 1;
	std::string write = "p11tool --write --load-privkey " + Pki::get().path(name + ".key") +
	                    " --label " + label + " --id 0" + std::to_string(id++ % 10) +
	                    " --login --set-pin " + kTokenPin +
	                    " 'pkcs11:token=tlsupd-test' >/dev/null 2>&1";
	return std::system(write.c_str()) == 0;
}

bool softhsm_delete(const std::string &label) {
	std::string del = std::string("p11tool --batch --delete --login --set-pin ") + kTokenPin +
	                  " 'pkcs11:token=tlsupd-test;object=" + label + "' >/dev/null 2>&1";
	return std::system(del.c_str()) == 0;
}

void join_private_session_keyring() {
	if (keyctl_join_session_keyring(nullptr) < 0)
		std::abort();
}

key_serial_t add_user_key(const std::string &desc, std::span<const uint8_t> payload,
                          key_serial_t ring) {
	key_serial_t id = add_key("user", desc.c_str(), payload.data(), payload.size(), ring);
	if (id < 0) {
		std::perror("add_key");
		std::abort();
	}
	return id;
}

key_serial_t add_keyring(const std::string &desc, key_serial_t ring) {
	key_serial_t id = add_key("keyring", desc.c_str(), nullptr, 0, ring);
	if (id < 0) {
		std::perror("add_key(keyring)");
		std::abort();
	}
	return id;
}

key_serial_t add_psk_key(const std::string &desc, std::span<const uint8_t> payload,
                         key_serial_t ring) {
	return add_key(kPskKeyType, desc.c_str(), payload.data(), payload.size(), ring);
}

const PeerCertificateKeys &peer_keys() {
	static PeerCertificateKeys keys = [] {
		if (!ensure_process_keyring())
			std::abort();
		auto k = PeerCertificateKeys::create();
		if (!k)
			std::abort();
		return std::move(k).value();
	}();
	return keys;
}

void expect_certificate_key(key_serial_t key, const std::vector<uint8_t> &der) {
	auto d = describe_key(key);
	ASSERT_TRUE(d.ok()) << d.error().reason;
	EXPECT_EQ(d->description.rfind("tlsupd:x509:sha256:", 0), 0u) << d->description;
	if (d->type == "asymmetric")
		return;
	ASSERT_EQ(d->type, "user");
	auto k = read_key(key);
	ASSERT_TRUE(k.ok()) << k.error().reason;
	EXPECT_EQ(std::vector<uint8_t>(k->data(), k->data() + k->size()), der);
}

std::string key_expiry(key_serial_t key) {
	std::ifstream in("/proc/keys");
	std::string line;
	char want[16];
	std::snprintf(want, sizeof(want), "%08x ", static_cast<unsigned>(key));
	while (std::getline(in, line)) {
		if (line.rfind(want, 0) != 0)
			continue;
		std::istringstream fields(line);
		std::string serial, flags, usage, expiry;
		fields >> serial >> flags >> usage >> expiry;
		return expiry;
	}
	return "";
}

std::vector<uint8_t> bytes(const std::string &s) {
	return {s.begin(), s.end()};
}

std::vector<uint8_t> random_bytes(size_t n) {
	std::vector<uint8_t> out(n);
	gnutls_rnd(GNUTLS_RND_RANDOM, out.data(), n);
	return out;
}

std::pair<UniqueFd, UniqueFd> unix_pair() {
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		std::abort();
	return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

std::string big_certificate() {
	const Pki &pki = Pki::get();
	std::string name = "big-flight";
	std::string pem = pki.path(name + ".pem");
	if (std::filesystem::exists(pem))
		return name;
	std::string tmpl = pki.path(name + ".tmpl");
	{
		std::ofstream t(tmpl);
		// 40000 bytes of a private, non-critical extension.
		t << "cn = \"server.test\"\ndns_name = \"server.test\"\n"
		  << "add_extension = \"1.3.6.1.4.1.99999.1 0x" << std::string(80000, '0')
		  << "\"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 30\n";
	}
	std::filesystem::copy_file(pki.path("server.key"), pki.path(name + ".key"));
	std::string cmd = "certtool --generate-certificate --load-privkey " +
	                  pki.path("server.key") + " --load-ca-certificate " + pki.path("ca.pem") +
	                  " --load-ca-privkey " + pki.path("ca.key") + " --template " + tmpl +
	                  " --outfile " + pem + " >/dev/null 2>&1";
	if (std::system(cmd.c_str()) != 0)
		return {};
	return name;
}

std::pair<UniqueFd, UniqueFd> tcp_pair(bool ipv6, int accepted_rcvbuf) {
	int family = ipv6 ? AF_INET6 : AF_INET;
	UniqueFd lst(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_storage ss{};
	socklen_t len;
	if (ipv6) {
		auto &a = reinterpret_cast<sockaddr_in6 &>(ss);
		a.sin6_family = AF_INET6;
		a.sin6_addr = in6addr_loopback;
		len = sizeof(a);
	} else {
		auto &a = reinterpret_cast<sockaddr_in &>(ss);
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(a);
	}
	if (accepted_rcvbuf > 0)
		setsockopt(lst.get(), SOL_SOCKET, SO_RCVBUF, &accepted_rcvbuf,
		           sizeof(accepted_rcvbuf));
	if (bind(lst.get(), reinterpret_cast<sockaddr *>(&ss), len) < 0 || listen(lst.get(), 1) < 0)
		std::abort();
	getsockname(lst.get(), reinterpret_cast<sockaddr *>(&ss), &len);
	UniqueFd a(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (connect(a.get(), reinterpret_cast<sockaddr *>(&ss), len) < 0)
		std::abort();
	UniqueFd b(accept4(lst.get(), nullptr, nullptr, SOCK_CLOEXEC));
	if (!b.valid())
		std::abort();
	return {std::move(a), std::move(b)};
}

Config make_config(const ConfigSpec &spec) {
	const Pki &pki = Pki::get();
	Config cfg;
	cfg.source = "test.conf";
	auto p = [&](const std::string &f) { return f.empty() ? std::string() : pki.path(f); };
	cfg.client.truststore = p(spec.client_ca);
	cfg.server.truststore = p(spec.server_ca);
	cfg.client.crl = p(spec.crl);
	cfg.server.crl = p(spec.crl);
	if (!spec.client_cert.empty()) {
		cfg.client.certificate = pki.path(spec.client_cert + ".pem");
		cfg.client.private_key = pki.path(spec.client_key + ".key");
	}
	if (!spec.server_cert.empty()) {
		cfg.server.certificate = pki.path(spec.server_cert + ".pem");
		cfg.server.private_key = pki.path(spec.server_key + ".key");
	}
	if (!spec.client_pq.empty()) {
		cfg.client.pq_certificate = pki.path(spec.client_pq + ".pem");
		cfg.client.pq_private_key = pki.path(spec.client_pq + ".key");
	}
	if (!spec.server_pq.empty()) {
		cfg.server.pq_certificate = pki.path(spec.server_pq + ".pem");
		cfg.server.pq_private_key = pki.path(spec.server_pq + ".key");
	}
	return cfg;
}

std::shared_ptr<const Credentials> make_credentials(const ConfigSpec &spec) {
	auto creds = load_credentials(make_config(spec));
	if (!creds) {
		std::fprintf(stderr, "load_credentials: %s\n", creds.error().reason.c_str());
		std::abort();
	}
	return creds.value();
}

CaptureLog::CaptureLog()
    : log_(Log::LineSink([this](int prio, std::string_view line) {
	      std::lock_guard lock(mu_);
	      lines_.push_back("<" + std::to_string(prio) + ">" + std::string(line));
      })) {
	log_.set_level(kLogDebug);
}

std::vector<std::string> CaptureLog::lines() const {
	std::lock_guard lock(mu_);
	return lines_;
}

bool CaptureLog::contains(const std::string &needle) const {
	std::lock_guard lock(mu_);
	for (const auto &l : lines_)
		if (l.find(needle) != std::string::npos)
			return true;
	return false;
}

// ---- Peer ----

namespace {

struct PeerState {
	int fd;
	const PeerOptions *opts;
	bool corked = false;
	std::string pending;
	bool saw_certificate = false;
	int client_hellos = 0;
};

int note_certificate(gnutls_session_t s, unsigned, unsigned, unsigned incoming,
                     const gnutls_datum_t *) {
	if (incoming)
		static_cast<PeerState *>(gnutls_session_get_ptr(s))->saw_certificate = true;
	return 0;
}

ssize_t peer_push(gnutls_transport_ptr_t ptr, const void *data, size_t len) {
	auto *st = static_cast<PeerState *>(ptr);
	if (st->corked) {
		st->pending.append(static_cast<const char *>(data), len);
		return static_cast<ssize_t>(len);
	}
	return ::send(st->fd, data, len, MSG_NOSIGNAL);
}

ssize_t peer_pull(gnutls_transport_ptr_t ptr, void *data, size_t len) {
	auto *st = static_cast<PeerState *>(ptr);
	return ::recv(st->fd, data, len, 0);
}

bool flush(PeerState &st) {
	st.corked = false;
	size_t off = 0;
	while (off < st.pending.size()) {
		ssize_t n = ::send(st.fd, st.pending.data() + off, st.pending.size() - off,
		                   MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		off += static_cast<size_t>(n);
	}
	st.pending.clear();
	return true;
}

int cork_on_finished(gnutls_session_t s, unsigned, unsigned, unsigned incoming,
                     const gnutls_datum_t *) {
	if (!incoming)
		static_cast<PeerState *>(gnutls_session_get_ptr(s))->corked = true;
	return 0;
}

int close_on_first_message(gnutls_session_t s, unsigned, unsigned, unsigned incoming,
                           const gnutls_datum_t *) {
	if (!incoming)
		return 0;
	::shutdown(static_cast<PeerState *>(gnutls_session_get_ptr(s))->fd, SHUT_RDWR);
	return GNUTLS_E_USER_ERROR;
}

int peer_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
              const gnutls_datum_t *msg) {
	auto *st = static_cast<PeerState *>(gnutls_session_get_ptr(s));
	if (when == GNUTLS_HOOK_PRE && htype == GNUTLS_HANDSHAKE_FINISHED &&
	    !st->opts->data_after.empty())
		return cork_on_finished(s, htype, when, incoming, msg);
	if (when == GNUTLS_HOOK_PRE && st->opts->server && incoming &&
	    htype == GNUTLS_HANDSHAKE_CLIENT_HELLO)
		st->client_hellos++; // counted before GnuTLS may refuse it
	if (when != GNUTLS_HOOK_POST)
		return 0;
	if (st->opts->server && htype == GNUTLS_HANDSHAKE_CERTIFICATE_PKT)
		note_certificate(s, htype, when, incoming, msg);
	if (st->opts->misbehave == PeerOptions::Misbehave::CloseAfterFirstMessage)
		return close_on_first_message(s, htype, when, incoming, msg);
	return 0;
}

int peer_psk_lookup(gnutls_session_t s, const gnutls_datum_t *user, gnutls_datum_t *key) {
	auto *st = static_cast<PeerState *>(gnutls_session_get_ptr(s));
	std::string id(reinterpret_cast<const char *>(user->data), user->size);
	auto it = st->opts->psk_keys.find(id);
	if (it == st->opts->psk_keys.end())
		return -1;
	key->data = static_cast<unsigned char *>(gnutls_malloc(it->second.size()));
	std::memcpy(key->data, it->second.data(), it->second.size());
	key->size = static_cast<unsigned>(it->second.size());
	return 0;
}

} // namespace

Peer::Peer(UniqueFd fd, PeerOptions opts) : fd_(std::move(fd)), opts_(std::move(opts)) {
	if (pipe2(stall_pipe_, O_CLOEXEC) < 0)
		std::abort();
	thread_ = std::thread([this] { run(); });
}

Peer::~Peer() {
	release_stall();
	if (thread_.joinable())
		thread_.join();
	::close(stall_pipe_[0]);
	::close(stall_pipe_[1]);
}

void Peer::release_stall() {
	char c = 1;
	(void)!::write(stall_pipe_[1], &c, 1);
}

PeerOutcome Peer::wait() {
	if (thread_.joinable())
		thread_.join();
	return out_;
}

void Peer::run() {
	const Pki &pki = Pki::get();
	int fd = fd_.get();
	timeval tv{10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (opts_.misbehave == PeerOptions::Misbehave::Stall) {
		pollfd p{stall_pipe_[0], POLLIN, 0};
		::poll(&p, 1, 30000);
		out_.ret = GNUTLS_E_TIMEDOUT;
		return;
	}

	PeerState st{fd, &opts_};
	unsigned flags = opts_.server ? GNUTLS_SERVER : GNUTLS_CLIENT;
	if (!opts_.tickets)
		flags |= GNUTLS_NO_TICKETS;
	if (opts_.server && !opts_.data_after.empty())
		flags |= GNUTLS_ENABLE_EARLY_START;
	gnutls_session_t s;
	gnutls_init(&s, flags);
	gnutls_session_set_ptr(s, &st);
	gnutls_transport_set_ptr(s, &st);
	gnutls_transport_set_push_function(s, peer_push);
	gnutls_transport_set_pull_function(s, peer_pull);
	const char *err = nullptr;
	if (gnutls_priority_set_direct(s, opts_.priority.c_str(), &err) < 0) {
		out_.ret = GNUTLS_E_INVALID_REQUEST;
		out_.error = std::string("bad priority at ") + (err ? err : "?");
		gnutls_deinit(s);
		::shutdown(fd, SHUT_RDWR);
		return;
	}

	gnutls_certificate_credentials_t xcred = nullptr;
	gnutls_psk_client_credentials_t pcred = nullptr;
	gnutls_psk_server_credentials_t scred = nullptr;
	gnutls_certificate_allocate_credentials(&xcred);
	if (!opts_.cert.empty())
		gnutls_certificate_set_x509_key_file(xcred, pki.path(opts_.cert + ".pem").c_str(),
		                                     pki.path(opts_.cert + ".key").c_str(),
		                                     GNUTLS_X509_FMT_PEM);
	if (!opts_.ca.empty()) {
		gnutls_certificate_set_x509_trust_file(xcred, pki.path(opts_.ca).c_str(),
		                                       GNUTLS_X509_FMT_PEM);
		gnutls_session_set_verify_cert(
		        s, opts_.verify_name.empty() ? nullptr : opts_.verify_name.c_str(), 0);
	}
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, xcred);
	if (opts_.record_size_limit)
		gnutls_record_set_max_recv_size(s, opts_.record_size_limit);
	gnutls_datum_t ticket_key{};
	if (opts_.server && opts_.tickets) {
		gnutls_session_ticket_key_generate(&ticket_key);
		gnutls_session_ticket_enable_server(s, &ticket_key);
	}
	if (opts_.server && (opts_.request_client_cert || opts_.require_client_cert))
		gnutls_certificate_server_set_request(
		        s, opts_.require_client_cert ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
	if (!opts_.server && !opts_.psk_identity.empty()) {
		gnutls_psk_allocate_client_credentials(&pcred);
		gnutls_datum_t k{opts_.psk_key.data(), static_cast<unsigned>(opts_.psk_key.size())};
		gnutls_psk_set_client_credentials(pcred, opts_.psk_identity.c_str(), &k,
		                                  GNUTLS_PSK_KEY_RAW);
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, pcred);
	}
	if (opts_.server && !opts_.psk_keys.empty()) {
		gnutls_psk_allocate_server_credentials(&scred);
		gnutls_psk_set_server_credentials_function2(scred, peer_psk_lookup);
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, scred);
	}
	// GnuTLS keeps one hook per session: one that does all of it.
	gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_BOTH, peer_hook);

	// GnuTLS says E_AGAIN after each record of a handshake message it has
	// not got whole, blocking socket or not; SO_RCVTIMEO expiring says it
	// too. So E_AGAIN is retried until the receive timeout's worth of time
	// has passed.
	auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(tv.tv_sec);
	int ret;
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret) &&
	       (ret != GNUTLS_E_AGAIN || std::chrono::steady_clock::now() < give_up));
	out_.ret = ret;
	out_.saw_client_certificate = st.saw_certificate;
	out_.client_hellos = st.client_hellos;
	if (ret < 0) {
		out_.error = gnutls_strerror(ret);
		if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED)
			out_.error +=
			        std::string(": ") + gnutls_alert_get_name(gnutls_alert_get(s));
		else
			gnutls_alert_send_appropriate(s, ret); // as gnutls-serv does
		flush(st);
		::shutdown(fd, SHUT_WR); // the agent sees the end instead of waiting
	} else {
		out_.cipher = gnutls_cipher_get(s);
		unsigned n = 0;
		const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
		if (certs && n > 0)
			out_.agent_cert_der.assign(certs[0].data, certs[0].data + certs[0].size);
		if (opts_.tickets) {
			int t = gnutls_session_ticket_send(s, 1, 0);
			if (t < 0)
				out_.error = std::string("ticket: ") + gnutls_strerror(t);
		}
		if (!opts_.data_after.empty()) {
			gnutls_record_send(s, opts_.data_after.data(), opts_.data_after.size());
			flush(st);
		}
		while (out_.received.size() < opts_.receive_after) {
			char buf[4096];
			ssize_t n = gnutls_record_recv(s, buf, sizeof(buf));
			if (n == GNUTLS_E_INTERRUPTED)
				continue;
			// GNUTLS_E_AGAIN here is SO_RCVTIMEO expiring: give up.
			if (n <= 0) {
				out_.receive_ret = static_cast<int>(n);
				break;
			}
			out_.received.append(buf, static_cast<size_t>(n));
		}
	}
	gnutls_deinit(s);
	gnutls_free(ticket_key.data);
	gnutls_certificate_free_credentials(xcred);
	if (pcred)
		gnutls_psk_free_client_credentials(pcred);
	if (scred)
		gnutls_psk_free_server_credentials(scred);
}

Result<TlsSession::Progress> drive(TlsSession &session, int fd, std::chrono::milliseconds limit) {
	auto deadline = std::chrono::steady_clock::now() + limit;
	for (;;) {
		auto r = TRY(session.step());
		if (r == TlsSession::Progress::Done)
			return r;
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
		        deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0)
			return make_error(ETIMEDOUT, "test driver: no progress within the limit");
		pollfd p{
		        fd,
		        static_cast<short>(r == TlsSession::Progress::WantWrite ? POLLOUT : POLLIN),
		        0};
		::poll(&p, 1, static_cast<int>(left.count()));
	}
}

// ---- RecordCodec ----

namespace {

template <class Info>
void split(const Info &info, std::vector<uint8_t> &key, std::vector<uint8_t> &siv, uint64_t &seq,
           size_t salt_size) {
	key.assign(info.key, info.key + sizeof(info.key));
	siv.clear();
	if constexpr (requires { info.salt; })
		siv.insert(siv.end(), info.salt, info.salt + salt_size);
	siv.insert(siv.end(), info.iv, info.iv + sizeof(info.iv));
	seq = 0;
	for (uint8_t b : info.rec_seq)
		seq = (seq << 8) | b;
}

} // namespace

Result<RecordCodec> RecordCodec::from_crypto_info(std::span<const uint8_t> raw) {
	tls_crypto_info hdr;
	if (raw.size() < sizeof(hdr))
		return make_error(EINVAL, "crypto_info too short");
	std::memcpy(&hdr, raw.data(), sizeof(hdr));
	if (hdr.version != TLS_1_3_VERSION)
		return make_error(EINVAL, "crypto_info version %#x is not TLS 1.3", hdr.version);
	std::vector<uint8_t> key;
	RecordCodec c;
	gnutls_cipher_algorithm_t alg;
	auto load = [&](auto info, gnutls_cipher_algorithm_t a, size_t salt) -> Result<void> {
		if (raw.size() != sizeof(info))
			return make_error(EINVAL, "crypto_info is %zu bytes, expected %zu",
			                  raw.size(), sizeof(info));
		std::memcpy(&info, raw.data(), sizeof(info));
		split(info, key, c.static_iv_, c.seq_, salt);
		alg = a;
		return {};
	};
	switch (hdr.cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		TRY(load(tls12_crypto_info_aes_gcm_128{}, GNUTLS_CIPHER_AES_128_GCM, 4));
		break;
	case TLS_CIPHER_AES_GCM_256:
		TRY(load(tls12_crypto_info_aes_gcm_256{}, GNUTLS_CIPHER_AES_256_GCM, 4));
		break;
	case TLS_CIPHER_AES_CCM_128:
		TRY(load(tls12_crypto_info_aes_ccm_128{}, GNUTLS_CIPHER_AES_128_CCM, 4));
		break;
	case TLS_CIPHER_CHACHA20_POLY1305:
		TRY(load(tls12_crypto_info_chacha20_poly1305{}, GNUTLS_CIPHER_CHACHA20_POLY1305,
		         0));
		break;
	default:
		return make_error(EINVAL, "unknown cipher_type %u", hdr.cipher_type);
	}
	if (c.static_iv_.size() != 12)
		return make_error(EINVAL, "static IV is %zu bytes", c.static_iv_.size());
	gnutls_datum_t k{key.data(), static_cast<unsigned>(key.size())};
	int ret = gnutls_aead_cipher_init(&c.aead_, alg, &k);
	if (ret < 0)
		return make_error(EIO, "aead init: %s", gnutls_strerror(ret));
	return c;
}

RecordCodec::RecordCodec(RecordCodec &&o) noexcept
    : aead_(std::exchange(o.aead_, nullptr)), static_iv_(std::move(o.static_iv_)), seq_(o.seq_) {}

RecordCodec::~RecordCodec() {
	if (aead_)
		gnutls_aead_cipher_deinit(aead_);
}

std::vector<uint8_t> RecordCodec::nonce() {
	std::vector<uint8_t> n = static_iv_;
	for (int i = 0; i < 8; i++)
		n[11 - i] ^= static_cast<uint8_t>(seq_ >> (8 * i));
	return n;
}

Result<std::pair<uint8_t, std::string>> RecordCodec::open(std::span<const uint8_t> rec) {
	if (rec.size() < 5 + 16 + 1)
		return make_error(EINVAL, "record too short (%zu)", rec.size());
	if (rec[0] != 23)
		return make_error(EINVAL, "outer type %u is not application_data", rec[0]);
	auto n = nonce();
	std::vector<uint8_t> out(rec.size());
	size_t out_len = out.size();
	int ret = gnutls_aead_cipher_decrypt(aead_, n.data(), n.size(), rec.data(), 5, 16,
	                                     rec.data() + 5, rec.size() - 5, out.data(), &out_len);
	if (ret < 0)
		return make_error(EBADMSG, "record does not decrypt: %s", gnutls_strerror(ret));
	seq_++;
	while (out_len > 0 && out[out_len - 1] == 0)
		out_len--;
	if (out_len == 0)
		return make_error(EBADMSG, "record has no content type");
	uint8_t type = out[out_len - 1];
	return std::make_pair(type, std::string(reinterpret_cast<char *>(out.data()), out_len - 1));
}

std::vector<uint8_t> RecordCodec::seal(uint8_t type, const std::string &plaintext) {
	std::vector<uint8_t> inner(plaintext.begin(), plaintext.end());
	inner.push_back(type);
	size_t clen = inner.size() + 16;
	std::vector<uint8_t> rec(5 + clen);
	rec[0] = 23;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = static_cast<uint8_t>(clen >> 8);
	rec[4] = static_cast<uint8_t>(clen);
	auto n = nonce();
	size_t out_len = clen;
	if (gnutls_aead_cipher_encrypt(aead_, n.data(), n.size(), rec.data(), 5, 16, inner.data(),
	                               inner.size(), rec.data() + 5, &out_len) < 0)
		std::abort();
	seq_++;
	return rec;
}

Result<std::vector<uint8_t>> read_record(int fd, int timeout_ms) {
	std::vector<uint8_t> rec;
	size_t want = 5;
	while (rec.size() < want) {
		pollfd p{fd, POLLIN, 0};
		if (::poll(&p, 1, timeout_ms) <= 0)
			return make_error(ETIMEDOUT, "no record within %d ms (%zu bytes read)",
			                  timeout_ms, rec.size());
		uint8_t buf[4096];
		size_t ask = want - rec.size();
		ssize_t n = ::recv(fd, buf, ask < sizeof(buf) ? ask : sizeof(buf), 0);
		if (n <= 0)
			return make_error(EPIPE, "socket closed after %zu bytes", rec.size());
		rec.insert(rec.end(), buf, buf + n);
		if (rec.size() == 5 && want == 5)
			want = 5 + ((static_cast<size_t>(rec[3]) << 8) | rec[4]);
	}
	return rec;
}

} // namespace tlsup::test
