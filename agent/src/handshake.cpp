// SPDX-License-Identifier: GPL-2.0
#include "handshake.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/uio.h>

#include <uapi/linux/handshake.h>

#include "keyring.hpp"

namespace tlsup {

namespace {

// System-wide policy first ("SECURE256:+SECURE128", as ktls-utils), then
// TLS 1.3 alone and only the ciphers the kernel's TLS implements. No
// session tickets: the kernel consumers never resume.
//
// Groups: X25519 first. SECURE256 alone orders P-384, P-521 and FFDHE8192
// first, and a client computes a key share for each of its top two groups
// of different kinds: two expensive shares per handshake that an X25519
// server discards (measured: ~11% of the agent's instructions). With
// GNUTLS_KEY_SHARE_TOP (init_session) the client sends the X25519 share
// only; a server without X25519 costs one HelloRetryRequest.
constexpr const char *kPolicy = "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:-COMP-ALL:"
                                "%NO_TICKETS:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
                                "+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:-CIPHER-ALL";
constexpr const char *kCiphersAll = ":+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AES-128-CCM";
constexpr const char *kCiphersSha256 = ":+AES-128-GCM:+CHACHA20-POLY1305:+AES-128-CCM";
constexpr const char *kCiphersSha384 = ":+AES-256-GCM";
constexpr const char *kPskExchange = ":+ECDHE-PSK:+DHE-PSK:+PSK";

Result<Priority> make_priority(const std::string &text) {
	gnutls_priority_t p = nullptr;
	const char *err = nullptr;
	int ret = gnutls_priority_init(&p, text.c_str(), &err);
	if (ret < 0)
		return make_error(EIO, "priority string rejected at '%s': %s", err ? err : "?",
		                  gnutls_strerror(ret));
	return Priority(p);
}

bool is_ip_literal(const std::string &name) {
	unsigned char buf[sizeof(in6_addr)];
	return inet_pton(AF_INET, name.c_str(), buf) == 1 ||
	       inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

bool is_closed_error(int ret, int sys_errno) {
	switch (ret) {
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
		return true;
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		return sys_errno == ECONNRESET || sys_errno == EPIPE || sys_errno == 0;
	default:
		return false;
	}
}

bool is_rejection(int ret) {
	switch (ret) {
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
	case GNUTLS_E_CERTIFICATE_ERROR:
	case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
	case GNUTLS_E_NO_CIPHER_SUITES:
	case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
	case GNUTLS_E_NO_COMMON_KEY_SHARE:
	case GNUTLS_E_NO_APPLICATION_PROTOCOL:
	case GNUTLS_E_DECRYPTION_FAILED:
	case GNUTLS_E_PK_SIG_VERIFY_FAILED:
	case GNUTLS_E_USER_ERROR:
		return true;
	default:
		return false;
	}
}

// The binder hash follows the key length (RFC 8446 ties a PSK to one hash;
// ktls-utils and the NVMe TLS spec use 48-byte keys for SHA-384). GnuTLS
// before 3.8.1 computes every external PSK binder with SHA-256, so it
// cannot use a 48-byte key correctly: refuse it with a clear reason rather
// than fail the handshake in a way that names nothing.
Result<void> psk_usable(size_t key_length) {
#ifndef TLSUP_HAVE_PSK_CREDENTIALS2
	if (key_length == 48)
		return make_error(ENOKEY, "a 48-byte PSK needs SHA-384 binders, which this "
		                          "GnuTLS (< 3.8.1) cannot compute");
#else
	(void)key_length;
#endif
	return {};
}

} // namespace

Result<std::unique_ptr<Priorities>> Priorities::create() {
	auto p = std::unique_ptr<Priorities>(new Priorities());
	std::string base = kPolicy;
	p->x509_ = TRY(make_priority(base + kCiphersAll));
	p->psk_any_ = TRY(make_priority(base + kCiphersAll + kPskExchange));
	p->psk_sha256_ = TRY(make_priority(base + kCiphersSha256 + kPskExchange));
	p->psk_sha384_ = TRY(make_priority(base + kCiphersSha384 + kPskExchange));
	return p;
}

gnutls_priority_t Priorities::psk(size_t key_length) const {
	if (key_length == 32)
		return psk_sha256_.get();
	if (key_length == 48)
		return psk_sha384_.get();
	return psk_any_.get();
}

SessionSetup setup_for(const HandshakeRequest &req) {
	SessionSetup s;
	s.fd = req.sockfd;
	s.role = req.message_type == HANDSHAKE_MSG_TYPE_SERVERHELLO ? Role::Server : Role::Client;
	s.auth_mode = req.auth_mode;
	s.peername = req.peername;
	for (int32_t id : req.peer_identities)
		if (id > 0) // 0 is TLS_NO_PEERID
			s.peer_identities.push_back(id);
	s.certificates = req.certificates;
	s.keyring = req.keyring;
	return s;
}

TlsSession::TlsSession(SessionSetup setup, const Log &log) : setup_(std::move(setup)), log_(log) {}

TlsSession::~TlsSession() {
	restore_nagle();
}

Result<std::unique_ptr<TlsSession>> TlsSession::create(SessionSetup setup, const Log &log) {
	if (!setup.credentials || !setup.priorities)
		return make_error(EIO, "session set up without credentials or priorities");
	auto s = std::unique_ptr<TlsSession>(new TlsSession(std::move(setup), log));
	socklen_t alen = sizeof(s->peer_addr_);
	if (getpeername(s->setup_.fd, reinterpret_cast<sockaddr *>(&s->peer_addr_), &alen) < 0) {
		if (errno == ENOTSOCK || errno == EBADF)
			return make_error(EINVAL, "fd %d is not a socket", s->setup_.fd);
		return make_error(ETIMEDOUT, "socket is not connected: %s", strerror(errno));
	}
	TRY(s->init_session());

	// Nagle off while handshake messages go out (each flight is written
	// in pieces); the consumer's setting comes back before DONE.
	int v = 0;
	socklen_t vlen = sizeof(v);
	if (getsockopt(s->setup_.fd, IPPROTO_TCP, TCP_NODELAY, &v, &vlen) == 0) {
		s->saved_nodelay_ = v;
		int one = 1;
		if (v == 0 &&
		    setsockopt(s->setup_.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
			LOG_DEBUG(log, "fd %d: cannot disable Nagle: %s", s->setup_.fd,
			          strerror(errno));
	}
	return s;
}

void TlsSession::restore_nagle() {
	if (!saved_nodelay_)
		return;
	int v = *saved_nodelay_;
	saved_nodelay_.reset();
	if (v == 0 && setsockopt(setup_.fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) < 0)
		LOG_DEBUG(log_, "fd %d: cannot restore Nagle: %s", setup_.fd, strerror(errno));
}

Result<void> TlsSession::init_session() {
	unsigned flags = (setup_.role == Role::Server ? GNUTLS_SERVER
	                                              : GNUTLS_CLIENT | GNUTLS_KEY_SHARE_TOP) |
	                 GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS;
	gnutls_session_t raw = nullptr;
	int ret = gnutls_init(&raw, flags);
	if (ret < 0)
		return make_error(ret == GNUTLS_E_MEMORY_ERROR ? ENOMEM : EIO, "gnutls_init: %s",
		                  gnutls_strerror(ret));
	session_.reset(raw);
	gnutls_session_set_ptr(raw, this);
	gnutls_transport_set_ptr(raw, this);
	gnutls_transport_set_pull_function(raw, pull);
	gnutls_transport_set_vec_push_function(raw, vec_push);
	gnutls_transport_set_pull_timeout_function(raw, pull_timeout);
	// The worker owns the deadline.
	gnutls_handshake_set_timeout(raw, GNUTLS_INDEFINITE_TIMEOUT);

	switch (setup_.auth_mode) {
	case HANDSHAKE_AUTH_UNAUTH:
		if (setup_.role == Role::Server)
			return make_error(EINVAL, "a server cannot be anonymous");
		return init_x509();
	case HANDSHAKE_AUTH_X509:
		return init_x509();
	case HANDSHAKE_AUTH_PSK:
		return setup_.role == Role::Client ? init_psk_client() : init_psk_server();
	default:
		return make_error(EINVAL, "unknown auth mode %u", setup_.auth_mode);
	}
}

Result<void> TlsSession::init_x509() {
	gnutls_session_t s = session_.get();
	const RoleMaterial &material = setup_.role == Role::Client ? setup_.credentials->client
	                                                           : setup_.credentials->server;
	gnutls_certificate_credentials_t cred = nullptr;
	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return make_error(ENOMEM, "cannot allocate certificate credentials");
	cert_cred_.reset(cred);

	bool wants_identity = setup_.auth_mode == HANDSHAKE_AUTH_X509;
	if (wants_identity) {
		// The kernel's key serials first, then the configured files.
		std::optional<CertificatePair> pair;
		for (const auto &c : setup_.certificates) {
			if (c.cert == 0 && c.privkey == 0)
				continue;
			if (c.cert == 0 || c.privkey == 0)
				return make_error(
				        EINVAL, "CERTIFICATE names a %s without a %s (%d, %d)",
				        c.cert ? "certificate" : "private key",
				        c.cert ? "private key" : "certificate", c.cert, c.privkey);
			pair = c;
			break;
		}
		std::vector<X509Crt> chain_owned;
		X509Privkey key_owned;
		std::vector<gnutls_x509_crt_t> chain;
		gnutls_x509_privkey_t key = nullptr;
		if (pair) {
			auto cert_der = TRY(read_key(pair->cert));
			auto key_der = TRY(read_key(pair->privkey));
			auto parsed = import_der_chain(cert_der.span());
			if (!parsed)
				return make_error(ENOKEY, "certificate key %d: %s", pair->cert,
				                  parsed.error().reason.c_str());
			chain_owned = std::move(parsed).value();
			auto pk = import_der_privkey(key_der.span());
			if (!pk)
				return make_error(ENOKEY, "private key %d: %s", pair->privkey,
				                  pk.error().reason.c_str());
			key_owned = std::move(pk).value();
			auto match = check_key_matches(chain_owned.front().get(), key_owned.get());
			if (!match)
				return make_error(ENOKEY, "keys %d/%d: %s", pair->cert,
				                  pair->privkey, match.error().reason.c_str());
			for (auto &c : chain_owned)
				chain.push_back(c.get());
			key = key_owned.get();
		} else if (material.identity) {
			for (auto &c : material.identity->chain)
				chain.push_back(c.get());
			key = material.identity->key.get();
		} else {
			return make_error(ENOKEY,
			                  "no %s certificate: none in the request and none "
			                  "configured ([authenticate.%s] x509.certificate)",
			                  setup_.role == Role::Client ? "client" : "server",
			                  setup_.role == Role::Client ? "client" : "server");
		}
		int ret = gnutls_certificate_set_x509_key(cred, chain.data(),
		                                          static_cast<int>(chain.size()), key);
		if (ret < 0)
			return make_error(ret == GNUTLS_E_MEMORY_ERROR ? ENOMEM : ENOKEY,
			                  "certificate and key not usable: %s",
			                  gnutls_strerror(ret));
	}

	int ret = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	if (ret < 0)
		return make_error(EIO, "gnutls_credentials_set: %s", gnutls_strerror(ret));
	ret = gnutls_priority_set(s, setup_.priorities->certificate());
	if (ret < 0)
		return make_error(EIO, "gnutls_priority_set: %s", gnutls_strerror(ret));
	gnutls_session_set_verify_function(s, verify_callback);

	if (setup_.role == Role::Server) {
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
	} else if (setup_.peername && !is_ip_literal(*setup_.peername)) {
		ret = gnutls_server_name_set(s, GNUTLS_NAME_DNS, setup_.peername->data(),
		                             setup_.peername->size());
		if (ret < 0)
			return make_error(EINVAL, "PEERNAME '%s' is not a usable server name: %s",
			                  setup_.peername->c_str(), gnutls_strerror(ret));
	}
	return {};
}

Result<void> TlsSession::init_psk_client() {
	// GnuTLS offers one external PSK per ClientHello, and a server that
	// rejects it ends the connection, so a second ClientHello is not
	// possible on this socket: take the first identity whose key is
	// readable and well-formed, skipping (and logging) the others.
	std::optional<Error> last;
	for (key_serial_t id : setup_.peer_identities) {
		auto identity = key_description(id);
		if (!identity) {
			LOG_INFO(log_, "fd %d: skipping PSK %d: %s", setup_.fd, id,
			         identity.error().reason.c_str());
			last = identity.error();
			continue;
		}
		auto key = read_key(id);
		if (!key) {
			LOG_INFO(log_, "fd %d: skipping PSK %d: %s", setup_.fd, id,
			         key.error().reason.c_str());
			last = key.error();
			continue;
		}
		if (key->empty() || identity->empty()) {
			last = make_error(ENOKEY, "PSK %d has an empty identity or key", id);
			LOG_INFO(log_, "fd %d: skipping PSK %d: %s", setup_.fd, id,
			         last->reason.c_str());
			continue;
		}
		if (auto usable = psk_usable(key->size()); !usable) {
			last = make_error(ENOKEY, "PSK %d: %s", id, usable.error().reason.c_str());
			LOG_INFO(log_, "fd %d: skipping PSK %d: %s", setup_.fd, id,
			         usable.error().reason.c_str());
			continue;
		}
		gnutls_psk_client_credentials_t cred = nullptr;
		int ret;
#ifdef TLSUP_HAVE_PSK_CREDENTIALS2
		gnutls_mac_algorithm_t mac =
		        key->size() == 48 ? GNUTLS_MAC_SHA384 : GNUTLS_MAC_SHA256;
		ret = gnutls_psk_allocate_client_credentials2(&cred, mac);
#else
		ret = gnutls_psk_allocate_client_credentials(&cred);
#endif
		if (ret < 0)
			return make_error(ENOMEM, "cannot allocate PSK credentials");
		psk_client_cred_.reset(cred);
		gnutls_datum_t k{const_cast<unsigned char *>(key->data()),
		                 static_cast<unsigned>(key->size())};
		ret = gnutls_psk_set_client_credentials(cred, identity->c_str(), &k,
		                                        GNUTLS_PSK_KEY_RAW);
		if (ret < 0)
			return make_error(EINVAL, "PSK %d not usable: %s", id,
			                  gnutls_strerror(ret));
		gnutls_session_t s = session_.get();
		ret = gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred);
		if (ret < 0)
			return make_error(EIO, "gnutls_credentials_set: %s", gnutls_strerror(ret));
		ret = gnutls_priority_set(s, setup_.priorities->psk(key->size()));
		if (ret < 0)
			return make_error(EIO, "gnutls_priority_set: %s", gnutls_strerror(ret));
		psk_serial_ = id;
		LOG_DEBUG(log_, "fd %d: offering PSK identity '%s' (key %d, %zu bytes)", setup_.fd,
		          identity->c_str(), id, key->size());
		return {};
	}
	if (last)
		return make_error(ENOKEY, "no usable PSK among %zu identities (last: %s)",
		                  setup_.peer_identities.size(), last->reason.c_str());
	return make_error(ENOKEY, "no PSK identity in the request");
}

Result<void> TlsSession::init_psk_server() {
	gnutls_psk_server_credentials_t cred = nullptr;
#ifdef TLSUP_HAVE_PSK_CREDENTIALS2
	// The binder hash then follows the negotiated suite, as in ktls-utils.
	int aret = gnutls_psk_allocate_server_credentials2(&cred, GNUTLS_MAC_UNKNOWN);
#else
	int aret = gnutls_psk_allocate_server_credentials(&cred);
#endif
	if (aret < 0)
		return make_error(ENOMEM, "cannot allocate PSK credentials");
	psk_server_cred_.reset(cred);
	gnutls_psk_set_server_credentials_function2(cred, psk_callback);
	gnutls_session_t s = session_.get();
	int ret = gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred);
	if (ret < 0)
		return make_error(EIO, "gnutls_credentials_set: %s", gnutls_strerror(ret));
	ret = gnutls_priority_set(s, setup_.priorities->psk(0));
	if (ret < 0)
		return make_error(EIO, "gnutls_priority_set: %s", gnutls_strerror(ret));
	return {};
}

int TlsSession::verify_callback(gnutls_session_t session) {
	return static_cast<TlsSession *>(gnutls_session_get_ptr(session))->verify_peer();
}

int TlsSession::verify_peer() {
	auto chain = import_peer_chain(session_.get());
	if (!chain) {
		callback_error_ = chain.error();
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	peer_chain_ = std::move(chain).value();
	if (setup_.role == Role::Server && peer_chain_.certs.empty())
		return 0; // the client may stay anonymous; no REMOTE_AUTH then

	const RoleMaterial &material = setup_.role == Role::Client ? setup_.credentials->client
	                                                           : setup_.credentials->server;
	auto verified =
	        verify_chain(material.trust.get(), peer_chain_, setup_.role == Role::Client);
	if (!verified) {
		callback_error_ = verified.error();
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	if (setup_.role == Role::Server)
		return 0;

	gnutls_x509_crt_t leaf = peer_chain_.certs.front().get();
	if (setup_.peername) {
		if (certificate_matches_name(leaf, *setup_.peername))
			return 0;
		callback_error_ = make_error(EACCES, "server certificate does not match '%s'",
		                             setup_.peername->c_str());
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	auto addr = address_text(peer_addr_);
	if (!addr) {
		callback_error_ = make_error(EACCES, "no PEERNAME and the peer has no IP address "
		                                     "to match the certificate against");
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	if (certificate_matches_address(leaf, peer_addr_))
		return 0;
	if (!setup_.reverse_names) {
		callback_error_ = make_error(EACCES,
		                             "no PEERNAME, %s is not in the certificate's IP "
		                             "addresses, and reverse DNS name matching is off",
		                             addr->c_str());
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	if (!setup_.reverse_names->failure.empty()) {
		callback_error_ = make_error(EACCES,
		                             "no PEERNAME, %s is not in the certificate's IP "
		                             "addresses, and reverse DNS failed: %s",
		                             addr->c_str(), setup_.reverse_names->failure.c_str());
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	for (const auto &name : setup_.reverse_names->names) {
		if (certificate_matches_name(leaf, name)) {
			LOG_DEBUG(log_, "fd %d: %s resolves to %s, which the certificate names",
			          setup_.fd, addr->c_str(), name.c_str());
			return 0;
		}
	}
	std::string list;
	for (const auto &n : setup_.reverse_names->names)
		list += (list.empty() ? "" : ", ") + n;
	callback_error_ = make_error(EACCES,
	                             "no PEERNAME, and neither %s nor its reverse DNS names (%s) "
	                             "match the server certificate",
	                             addr->c_str(), list.empty() ? "none" : list.c_str());
	return GNUTLS_E_CERTIFICATE_ERROR;
}

int TlsSession::psk_callback(gnutls_session_t session, const gnutls_datum_t *username,
                             gnutls_datum_t *key) {
	return static_cast<TlsSession *>(gnutls_session_get_ptr(session))
	        ->lookup_psk(username, key);
}

Result<key_serial_t> TlsSession::find_server_psk(const std::string &identity) const {
	if (identity.find('\0') != std::string::npos)
		return make_error(EKEYREJECTED, "PSK identity contains a NUL byte");
	if (is_agent_key_name(identity))
		return make_error(EKEYREJECTED,
		                  "PSK identity '%s' is refused: tlsupd names its own keys so",
		                  identity.c_str());
	// Where a server PSK may come from (DESIGN §4a): the identities the
	// kernel named, then the request's keyring and the configured
	// keyrings, where a "psk" key is a PSK, and so is a "user" key in a
	// keyring the administrator named for PSKs. Never the process or
	// session keyring: they hold what every consumer and the agent itself
	// put there.
	for (key_serial_t id : setup_.peer_identities) {
		auto d = describe_key(id);
		if (d && d->description == identity &&
		    (d->type == kPskKeyType || d->type == "user"))
			return id;
	}
	std::vector<key_serial_t> rings;
	if (setup_.keyring > 0)
		rings.push_back(setup_.keyring);
	rings.insert(rings.end(), setup_.keyrings.begin(), setup_.keyrings.end());
	for (key_serial_t ring : rings) {
		std::span<const key_serial_t> one(&ring, 1);
		if (key_serial_t id = search_keyrings(one, kPskKeyType, identity))
			return id;
		bool for_psks = std::find(setup_.psk_keyrings.begin(), setup_.psk_keyrings.end(),
		                          ring) != setup_.psk_keyrings.end();
		if (key_serial_t id = for_psks ? search_keyrings(one, "user", identity) : 0)
			return id;
	}
	return make_error(EKEYREJECTED, "no key for PSK identity '%s'", identity.c_str());
}

int TlsSession::lookup_psk(const gnutls_datum_t *username, gnutls_datum_t *key) {
	std::string identity(reinterpret_cast<const char *>(username->data), username->size);
	auto found = find_server_psk(identity);
	if (!found) {
		callback_error_ = found.error();
		return -1;
	}
	auto bytes = read_key(*found);
	if (!bytes) {
		callback_error_ = make_error(EKEYREJECTED, "PSK identity '%s': %s",
		                             identity.c_str(), bytes.error().reason.c_str());
		return -1;
	}
	if (bytes->size() != 32 && bytes->size() != 48) {
		callback_error_ = make_error(EKEYREJECTED,
		                             "PSK identity '%s' (key %d): %zu bytes is no PSK "
		                             "(32 or 48)",
		                             identity.c_str(), *found, bytes->size());
		return -1;
	}
	if (auto usable = psk_usable(bytes->size()); !usable) {
		callback_error_ =
		        make_error(ENOKEY, "PSK identity '%s' (key %d): %s", identity.c_str(),
		                   *found, usable.error().reason.c_str());
		return -1;
	}
	key->data = static_cast<unsigned char *>(gnutls_malloc(bytes->size()));
	if (!key->data) {
		callback_error_ = make_error(ENOMEM, "out of memory for a PSK");
		return -1;
	}
	std::memcpy(key->data, bytes->data(), bytes->size());
	key->size = static_cast<unsigned>(bytes->size());
	psk_serial_ = *found;
	LOG_DEBUG(log_, "fd %d: client PSK identity '%s' is key %d", setup_.fd, identity.c_str(),
	          *found);
	return 0;
}

Result<TlsSession::Progress> TlsSession::step() {
	if (handshake_done_)
		return Progress::Done;
	gnutls_session_t s = session_.get();
	int ret;
	for (int i = 0;; i++) {
		errno = 0;
		ret = gnutls_handshake(s);
		if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
			return gnutls_record_get_direction(s) ? Progress::WantWrite
			                                      : Progress::WantRead;
		if (ret >= 0 || gnutls_error_is_fatal(ret) || i >= 16)
			break;
		LOG_DEBUG(log_, "fd %d: non-fatal: %s", setup_.fd, gnutls_strerror(ret));
	}
	if (ret < 0)
		return failure(ret);

	if (gnutls_protocol_get_version(s) != GNUTLS_TLS1_3)
		return make_error(EIO, "negotiated %s, not TLS 1.3",
		                  gnutls_protocol_get_name(gnutls_protocol_get_version(s)));
	if (!ktls_supports(gnutls_cipher_get(s)))
		return make_error(EIO, "negotiated cipher %s has no kTLS support",
		                  gnutls_cipher_get_name(gnutls_cipher_get(s)));
	handshake_done_ = true;
	return Progress::Done;
}

Error TlsSession::failure(int ret) {
	int sys_errno = last_io_errno_;
	gnutls_session_t s = session_.get();
	if (callback_error_) {
		// Tell the peer why, best effort: the socket is non-blocking. An
		// unknown identity gets its own alert, which ktls-utils' and our
		// clients report as EKEYREJECTED.
		if (callback_error_->code == EKEYREJECTED)
			gnutls_alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_UNKNOWN_PSK_IDENTITY);
		else
			gnutls_alert_send_appropriate(s, ret);
		return *callback_error_;
	}
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED && setup_.role == Role::Client &&
	    setup_.auth_mode == HANDSHAKE_AUTH_PSK &&
	    gnutls_alert_get(s) == GNUTLS_A_UNKNOWN_PSK_IDENTITY)
		return make_error(EKEYREJECTED, "the server does not know PSK identity %d",
		                  psk_serial_);
	if (setup_.role == Role::Server && setup_.auth_mode == HANDSHAKE_AUTH_PSK && psk_serial_ &&
	    (ret == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER || ret == GNUTLS_E_DECRYPTION_FAILED)) {
		gnutls_alert_send_appropriate(s, ret);
		return make_error(EACCES, "PSK binder for key %d did not verify (wrong key?)",
		                  psk_serial_);
	}
	bool peer_done = ret == GNUTLS_E_FATAL_ALERT_RECEIVED || is_closed_error(ret, sys_errno);
	if (!peer_done)
		gnutls_alert_send_appropriate(s, ret);
	return classify_handshake_error(
	        ret, sys_errno,
	        ret == GNUTLS_E_FATAL_ALERT_RECEIVED ? gnutls_alert_get(s) : GNUTLS_A_CLOSE_NOTIFY);
}

Error classify_handshake_error(int ret, int io_errno, gnutls_alert_description_t alert) {
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED)
		return make_error(EACCES, "peer sent fatal alert '%s'",
		                  gnutls_alert_get_name(alert));
	// close_notify in the middle of a handshake: the peer chose to stop
	// (GnuTLS peers that refuse a PSK do this), which is not a dropped
	// connection.
	if (ret == GNUTLS_E_SESSION_EOF)
		return make_error(EACCES, "peer ended the handshake (close_notify)");
	if (is_closed_error(ret, io_errno))
		return make_error(ETIMEDOUT,
		                  "peer closed the connection during the handshake (%s%s%s)",
		                  gnutls_strerror(ret), io_errno ? ": " : "",
		                  io_errno ? strerror(io_errno) : "");
	if (ret == GNUTLS_E_MEMORY_ERROR)
		return make_error(ENOMEM, "GnuTLS ran out of memory");
	if (is_rejection(ret))
		return make_error(EACCES, "negotiation failed: %s", gnutls_strerror(ret));
	return make_error(EIO, "handshake failed: %s", gnutls_strerror(ret));
}

Result<TrafficSecrets> TlsSession::traffic_secrets() const {
	if (!handshake_done_)
		return make_error(EIO, "traffic secrets requested before the handshake finished");
	gnutls_session_t s = session_.get();
	if (size_t pending = gnutls_record_check_pending(s); pending > 0)
		return make_error(EIO, "GnuTLS buffered %zu bytes past the handshake", pending);
	TrafficSecrets out;
	out.cipher = gnutls_cipher_get(s);
	for (int read = 0; read <= 1; read++) {
		gnutls_datum_t mac{}, iv{}, key{};
		unsigned char seq[8];
		int ret = gnutls_record_get_state(s, read, &mac, &iv, &key, seq);
		if (ret < 0)
			return make_error(EIO, "gnutls_record_get_state: %s", gnutls_strerror(ret));
		DirectionSecrets &d = read ? out.rx : out.tx;
		d.key = SecretBytes(std::span<const uint8_t>(key.data, key.size));
		d.iv = SecretBytes(std::span<const uint8_t>(iv.data, iv.size));
		std::memcpy(d.seq.data(), seq, sizeof(seq));
	}
	return out;
}

Result<std::vector<uint32_t>> TlsSession::remote_identities() {
	if (identities_ready_)
		return remote_ids_;
	if (setup_.auth_mode == HANDSHAKE_AUTH_PSK) {
		if (psk_serial_ <= 0)
			return make_error(EIO, "PSK handshake finished without a known key");
		remote_ids_.push_back(static_cast<uint32_t>(psk_serial_));
	} else if (!peer_chain_.leaf_der.empty()) {
		if (!setup_.peer_keys)
			return make_error(EIO, "no keyring for peer certificates");
		auto id = setup_.peer_keys->store(
		        peer_chain_.leaf_der,
		        gnutls_x509_crt_get_expiration_time(peer_chain_.certs.front().get()));
		if (!id)
			return id.error();
		remote_ids_.push_back(static_cast<uint32_t>(id.value()));
	}
	identities_ready_ = true;
	return remote_ids_;
}

// The record boundary guard. GnuTLS asks for as many bytes as it needs; the
// guard additionally never returns bytes past the end of the record being
// read, so a pull can never swallow the start of the consumer's data.
ssize_t TlsSession::pull(gnutls_transport_ptr_t ptr, void *buf, size_t len) {
	auto *self = static_cast<TlsSession *>(ptr);
	size_t allowed = self->body_left_ > 0 ? self->body_left_
	                                      : sizeof(self->header_) - self->header_have_;
	size_t want = len < allowed ? len : allowed;
	ssize_t n;
	do
		n = ::recv(self->setup_.fd, buf, want, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN)
			self->last_io_errno_ = errno;
		gnutls_transport_set_errno(self->session_.get(), errno);
		return -1;
	}
	if (n == 0)
		return 0;
	size_t got = static_cast<size_t>(n);
	if (self->body_left_ > 0) {
		self->body_left_ -= got;
	} else {
		std::memcpy(self->header_ + self->header_have_, buf, got);
		self->header_have_ += got;
		if (self->header_have_ == sizeof(self->header_)) {
			self->body_left_ =
			        (static_cast<size_t>(self->header_[3]) << 8) | self->header_[4];
			self->header_have_ = 0;
		}
	}
	return n;
}

ssize_t TlsSession::vec_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt) {
	auto *self = static_cast<TlsSession *>(ptr);
	msghdr msg{};
	msg.msg_iov = const_cast<iovec *>(reinterpret_cast<const iovec *>(iov));
	msg.msg_iovlen = static_cast<size_t>(iovcnt);
	ssize_t n;
	do
		n = ::sendmsg(self->setup_.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN)
			self->last_io_errno_ = errno;
		gnutls_transport_set_errno(self->session_.get(), errno);
	}
	return n;
}

int TlsSession::pull_timeout(gnutls_transport_ptr_t ptr, unsigned) {
	// Never waits: the event loop does the waiting.
	auto *self = static_cast<TlsSession *>(ptr);
	pollfd p{self->setup_.fd, POLLIN, 0};
	int n = ::poll(&p, 1, 0);
	return n < 0 ? -1 : n;
}

} // namespace tlsup
