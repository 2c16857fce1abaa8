// SPDX-License-Identifier: GPL-2.0
#include "handshake.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/uio.h>

#include "credentials.hpp"
#include "handshake_failure.hpp"
#include "keyring.hpp"
#include "peer_keys.hpp"
#include "psk_lookup.hpp"
#include "record_size_limit.hpp"
#include "session_credentials.hpp"

namespace tlsup {

namespace {

// What one step hands GnuTLS at most: 8 x its largest handshake message
// (128 KiB), so a peer that streams records never keeps a worker from its
// other handshakes for long.
constexpr size_t kMaxStepBytes = 1 << 20;

bool is_ip_literal(const std::string &name) {
	unsigned char buf[sizeof(in6_addr)];
	return inet_pton(AF_INET, name.c_str(), buf) == 1 ||
	       inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

} // namespace

TlsSession::TlsSession(SessionSetup setup, const Log &log) : setup_(std::move(setup)), log_(&log) {}

TlsSession::~TlsSession() {
	restore_nagle();
}

Result<std::unique_ptr<TlsSession>> TlsSession::create(SessionSetup setup, const Log &log) {
	if (!setup.credentials || !setup.priorities)
		return make_error(EIO, "session set up without credentials or priorities");
	auto s = std::unique_ptr<TlsSession>(new TlsSession(std::move(setup), log));
	if (s->setup_.socket) {
		s->peer_addr_ = s->setup_.socket->peer;
	} else {
		socklen_t alen = sizeof(s->peer_addr_);
		if (getpeername(s->setup_.fd, reinterpret_cast<sockaddr *>(&s->peer_addr_), &alen) <
		    0) {
			if (errno == ENOTSOCK || errno == EBADF)
				return make_error(EINVAL, "fd %d is not a socket", s->setup_.fd);
			return make_error(ETIMEDOUT, "socket is not connected: %s",
			                  strerror(errno));
		}
	}
	TRY(s->init_session());
	return s;
}

// Nagle's algorithm holds back a segment shorter than the MSS while an
// earlier short one is unacknowledged (Linux's Minshall variant). What one
// step writes leaves in one send(), and each flight answers the peer's
// last, which acknowledged ours: a flight that fits the socket's buffer is
// never held, and the consumer's setting is left alone (no system call).
// A flight that does not fit goes in pieces, and a piece could wait for
// the peer's delayed ACK: then Nagle is off until the consumer gets its
// setting back before DONE (restore_nagle()).
void TlsSession::nagle_off() {
	if (saved_nodelay_)
		return;
	int v = 1; // unreadable (not TCP): nothing to turn off, nor to restore
	socklen_t len = sizeof(v);
	if (getsockopt(setup_.fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) < 0)
		v = 1;
	saved_nodelay_ = v;
	int one = 1;
	if (v == 0 && setsockopt(setup_.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		LOG_DEBUG(*log_, "fd %d: cannot disable Nagle: %s", setup_.fd, strerror(errno));
}

void TlsSession::restore_nagle() {
	if (!saved_nodelay_)
		return;
	int v = *saved_nodelay_;
	saved_nodelay_.reset();
	if (v == 0 && setsockopt(setup_.fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) < 0)
		LOG_DEBUG(*log_, "fd %d: cannot restore Nagle: %s", setup_.fd, strerror(errno));
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
	gnutls_handshake_set_hook_function(raw, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_POST,
	                                   handshake_hook);

	switch (setup_.auth) {
	case Auth::Anonymous:
		if (setup_.role == Role::Server)
			return make_error(EINVAL, "a server cannot be anonymous");
		return init_x509();
	case Auth::X509:
		return init_x509();
	case Auth::Psk:
		return setup_.role == Role::Client ? init_psk_client() : init_psk_server();
	}
	return make_error(EINVAL, "unknown authentication mode");
}

Result<void> TlsSession::init_x509() {
	gnutls_session_t s = session_.get();
	if (setup_.auth == Auth::X509)
		identity_ = TRY(choose_identity(setup_));
	cert_cred_ = TRY(
	        certificate_credentials(setup_.auth == Auth::X509 ? retrieve_callback : nullptr));
	int ret = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cert_cred_.get());
	if (ret < 0)
		return make_error(EIO, "gnutls_credentials_set: %s", gnutls_strerror(ret));
	ret = gnutls_priority_set(s, setup_.priorities->certificate());
	if (ret < 0)
		return make_error(EIO, "gnutls_priority_set: %s", gnutls_strerror(ret));
	gnutls_session_set_verify_function(s, verify_callback);

	if (setup_.role == Role::Server) {
		gnutls_certificate_server_set_request(
		        s, setup_.credentials->server.clients.require_certificate
		                   ? GNUTLS_CERT_REQUIRE
		                   : GNUTLS_CERT_REQUEST);
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
	// rejects it ends the connection (RFC 8446 §6.2), which the kernel
	// owns: take the first identity whose key is usable.
	Psk psk = TRY(choose_client_psk(setup_.peer_identities, [this](key_serial_t id,
	                                                               const Error &why) {
		LOG_INFO(*log_, "fd %d: skipping PSK %d: %s", setup_.fd, id, why.reason.c_str());
	}));
	psk_client_cred_ = TRY(psk_client_credentials(psk));
	gnutls_session_t s = session_.get();
	int ret = gnutls_credentials_set(s, GNUTLS_CRD_PSK, psk_client_cred_.get());
	if (ret < 0)
		return make_error(EIO, "gnutls_credentials_set: %s", gnutls_strerror(ret));
	gnutls_priority_t prio = setup_.priorities->psk(psk.key.size());
	if (!prio)
		return make_error(ENOKEY,
		                  "PSK %d: the system crypto policy allows no cipher suite "
		                  "of the hash a %zu-byte key needs",
		                  psk.serial, psk.key.size());
	ret = gnutls_priority_set(s, prio);
	if (ret < 0)
		return make_error(EIO, "gnutls_priority_set: %s", gnutls_strerror(ret));
	psk_serial_ = psk.serial;
	LOG_DEBUG(*log_, "fd %d: offering PSK identity '%s' (key %d, %zu bytes)", setup_.fd,
	          psk.identity.c_str(), psk.serial, psk.key.size());
	auto at =
	        std::find(setup_.peer_identities.begin(), setup_.peer_identities.end(), psk.serial);
	if (size_t rest = static_cast<size_t>(setup_.peer_identities.end() - at) - 1; rest > 0)
		LOG_INFO(*log_,
		         "fd %d: %zu later PSK identit%s not offered: one per ClientHello, and a "
		         "server that refuses it ends the connection",
		         setup_.fd, rest, rest == 1 ? "y is" : "ies are");
	return {};
}

Result<void> TlsSession::init_psk_server() {
	psk_server_cred_ = TRY(psk_server_credentials(psk_callback));
	gnutls_session_t s = session_.get();
	int ret = gnutls_credentials_set(s, GNUTLS_CRD_PSK, psk_server_cred_.get());
	if (ret < 0)
		return make_error(EIO, "gnutls_credentials_set: %s", gnutls_strerror(ret));
	ret = gnutls_priority_set(s, setup_.priorities->psk(0));
	if (ret < 0)
		return make_error(EIO, "gnutls_priority_set: %s", gnutls_strerror(ret));
	return {};
}

int TlsSession::handshake_hook(gnutls_session_t session, unsigned type, unsigned, unsigned incoming,
                               const gnutls_datum_t *msg) {
	auto *self = static_cast<TlsSession *>(gnutls_session_get_ptr(session));
	bool client_hello = type == GNUTLS_HANDSHAKE_CLIENT_HELLO;
	bool from_peer =
	        incoming && msg &&
	        (self->setup_.role == Role::Server ? client_hello
	                                           : type == GNUTLS_HANDSHAKE_ENCRYPTED_EXTENSIONS);
	if (from_peer) // a second ClientHello (after a HelloRetryRequest) wins
		self->peer_record_limit_ = parse_record_size_limit(*msg, client_hello);
	return 0;
}

int TlsSession::retrieve_callback(gnutls_session_t session, const gnutls_datum_t *, int,
                                  const gnutls_pk_algorithm_t *, int, gnutls_pcert_st **pcert,
                                  unsigned *pcert_length, gnutls_privkey_t *privkey) {
	auto *self = static_cast<TlsSession *>(gnutls_session_get_ptr(session));
	const CertifiedKey *key = select_identity(self->identity_, session);
	if (!key) {
		*pcert_length = 0;
		return 0;
	}
	if (key == self->identity_.alternative)
		LOG_DEBUG(*self->log_, "fd %d: presenting the x509.pq certificate",
		          self->setup_.fd);
	// GnuTLS reads these and does not take them over.
	*pcert = const_cast<gnutls_pcert_st *>(key->pcerts());
	*pcert_length = key->count();
	*privkey = key->key();
	return 0;
}

int TlsSession::verify_callback(gnutls_session_t session) {
	return static_cast<TlsSession *>(gnutls_session_get_ptr(session))->on_peer_certificate();
}

int TlsSession::on_peer_certificate() {
	const RoleMaterial &material = setup_.role == Role::Client ? setup_.credentials->client
	                                                           : setup_.credentials->server;
	PeerCheck check;
	check.role = setup_.role;
	check.trust = material.trust.get();
	check.server = ServerName{setup_.peername, peer_addr_, setup_.reverse_names};
	check.clients = &setup_.credentials->server.clients;
	std::string matched;
	auto chain = check_peer(session_.get(), check, &matched);
	if (!chain) {
		verdict_ = chain.error();
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	peer_chain_ = std::move(chain).value();
	if (!matched.empty())
		LOG_DEBUG(*log_, "fd %d: %s", setup_.fd, matched.c_str());
	return 0;
}

int TlsSession::psk_callback(gnutls_session_t session, const gnutls_datum_t *username,
                             gnutls_datum_t *key) {
	return static_cast<TlsSession *>(gnutls_session_get_ptr(session))
	        ->on_psk_identity(username, key);
}

int TlsSession::on_psk_identity(const gnutls_datum_t *username, gnutls_datum_t *key) {
	std::string identity(reinterpret_cast<const char *>(username->data), username->size);
	PskScope scope{setup_.peer_identities, setup_.keyring, setup_.keyrings,
	               setup_.psk_keyrings};
	auto psk = find_server_psk(scope, identity);
	if (!psk) {
		verdict_ = psk.error();
		return -1;
	}
	key->data = static_cast<unsigned char *>(gnutls_malloc(psk->key.size()));
	if (!key->data) {
		verdict_ = make_error(ENOMEM, "out of memory for a PSK");
		return -1;
	}
	std::memcpy(key->data, psk->key.data(), psk->key.size());
	key->size = static_cast<unsigned>(psk->key.size());
	psk_serial_ = psk->serial;
	LOG_DEBUG(*log_, "fd %d: client PSK identity '%s' is key %d", setup_.fd, identity.c_str(),
	          psk->serial);
	return 0;
}

Result<TlsSession::Progress> TlsSession::step() {
	// What an earlier step could not send goes before anything new.
	if (out_sent_ < out_.size()) {
		if (!flush_output())
			return failure(GNUTLS_E_PUSH_ERROR);
		if (out_sent_ < out_.size())
			return Progress::WantWrite;
	}
	if (handshake_done_)
		return Progress::Done;
	step_bytes_ = 0;
	for (;;) {
		read_deferred_ = false;
		auto r = run_handshake();
		// Whatever happened, what GnuTLS was handed leaves the socket now
		// and the rest of the peek stays there (behind a Finished: for
		// kTLS).
		auto consumed = consume_handed();
		// And what GnuTLS wrote in this step -- records of one flight, an
		// alert after a failure -- goes out in one send.
		bool sent = flush_output();
		if (!r)
			return r;
		if (!consumed)
			return consumed.error();
		if (!sent)
			return failure(GNUTLS_E_PUSH_ERROR);
		// Done only once the last flight is out: kTLS must not take it.
		if (out_sent_ < out_.size())
			return Progress::WantWrite;
		// pull() did not look past a full peek while output waited; now
		// it is out, look: on an edge-triggered loop no new edge would
		// announce bytes that arrived before this step.
		if (r.value() == Progress::WantRead && read_deferred_)
			continue;
		return r;
	}
}

Result<TlsSession::Progress> TlsSession::run_handshake() {
	gnutls_session_t s = session_.get();
	int ret;
	// Non-fatal errors in a row, bounded; records taken (below) are not.
	for (int nonfatal = 0;;) {
		errno = 0;
		size_t before = step_bytes_;
		ret = gnutls_handshake(s);
		if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
			if (gnutls_record_get_direction(s))
				return Progress::WantWrite;
			// GnuTLS says E_AGAIN after each record of a handshake
			// message it has not got whole, though the rest of the
			// flight is in the peek (or behind a full one, in the
			// socket): nothing would wake us for those bytes. Go on
			// while it takes some, up to a bound no real flight nears.
			bool more = in_pos_ < in_len_ ||
			            (in_len_ == in_pos_ && in_len_ > 0 && !in_short_);
			if (!more || step_bytes_ == before)
				return Progress::WantRead;
			if (step_bytes_ > kMaxStepBytes)
				return make_error(EMSGSIZE,
				                  "the peer's flight exceeds %zu bytes without "
				                  "completing a handshake step",
				                  kMaxStepBytes);
			continue;
		}
		if (ret >= 0 || gnutls_error_is_fatal(ret) || nonfatal++ >= 16)
			break;
		LOG_DEBUG(*log_, "fd %d: non-fatal: %s", setup_.fd, gnutls_strerror(ret));
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
	gnutls_session_t s = session_.get();
	FailureFacts facts;
	facts.gnutls_error = ret;
	facts.io_errno = last_io_errno_;
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED)
		facts.alert = gnutls_alert_get(s);
	facts.verdict = std::move(verdict_);
	facts.role = setup_.role;
	facts.auth = setup_.auth;
	facts.psk_serial = psk_serial_;
	FailureDecision d = decide_failure(facts);
	switch (d.tell) {
	case FailureDecision::Tell::UnknownPskIdentity:
		gnutls_alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_UNKNOWN_PSK_IDENTITY);
		break;
	case FailureDecision::Tell::Appropriate:
		gnutls_alert_send_appropriate(s, ret);
		break;
	case FailureDecision::Tell::Nothing:
		break;
	}
	return d.error;
}

Result<TrafficSecrets> TlsSession::traffic_secrets() const {
	if (!handshake_done_)
		return make_error(EIO, "traffic secrets requested before the handshake finished");
	gnutls_session_t s = session_.get();
	if (size_t pending = gnutls_record_check_pending(s); pending > 0)
		return make_error(EIO, "GnuTLS buffered %zu bytes past the handshake", pending);
	TrafficSecrets out;
	out.cipher = gnutls_cipher_get(s);
	// RFC 8449: the peer may accept less than TLS's 2^14 per record.
	if (peer_record_limit_)
		out.tx_max_payload = tls13_max_payload(*peer_record_limit_).value_or(0);
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
	if (setup_.auth == Auth::Psk) {
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

namespace {

// Each thread's peek buffer: a session holds bytes in it only during one
// step() (they leave the socket, or the buffer, before step() returns), so
// sessions on one thread share it. Larger than any record: one peek takes
// a flight of small records.
constexpr size_t kPeekSize = 32768;
uint8_t *peek_buffer() {
	thread_local std::unique_ptr<uint8_t[]> buf(new uint8_t[kPeekSize]);
	return buf.get();
}

} // namespace

// GnuTLS's reads: from the last peek, never more than the rest of the
// current record. Once the peek is used up, what was handed is consumed
// from the socket and the socket peeked again -- unless the last peek found
// it emptier than the buffer, which says a new peek would find nothing that
// the event loop will not report anyway, or unless output is waiting.
ssize_t TlsSession::pull(gnutls_transport_ptr_t ptr, void *buf, size_t len) {
	auto *self = static_cast<TlsSession *>(ptr);
	auto fail = [self](int err) -> ssize_t {
		if (err != EAGAIN)
			self->last_io_errno_ = err;
		gnutls_transport_set_errno(self->session_.get(), err);
		return -1;
	};
	if (self->in_pos_ == self->in_len_) {
		bool was_short = self->in_short_ && self->in_len_ > 0;
		bool was_full = !self->in_short_ && self->in_len_ > 0;
		if (auto c = self->consume_handed(); !c)
			return fail(self->last_io_errno_ ? self->last_io_errno_ : EIO);
		// Nor is there anything to ask the socket for while this step's
		// output is unsent: in TLS 1.3 each handshake message the peer
		// still owes answers what we are about to send it.
		if (was_short)
			return fail(EAGAIN);
		if (self->out_sent_ < self->out_.size()) {
			// A full peek used up: the socket may hold more; step()
			// looks once the output is out.
			self->read_deferred_ = was_full;
			return fail(EAGAIN);
		}
		ssize_t n;
		do
			n = ::recv(self->setup_.fd, peek_buffer(), kPeekSize,
			           MSG_PEEK | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return fail(errno);
		if (n == 0)
			return 0; // the peer closed
		self->in_len_ = static_cast<size_t>(n);
		self->in_short_ = self->in_len_ < kPeekSize;
	}
	size_t n = self->guard_.limit(std::min(len, self->in_len_ - self->in_pos_));
	const uint8_t *from = peek_buffer() + self->in_pos_;
	std::memcpy(buf, from, n);
	self->guard_.consumed(from, n);
	self->in_pos_ += n;
	self->step_bytes_ += n;
	return static_cast<ssize_t>(n);
}

Result<void> TlsSession::consume_handed() {
	size_t want = in_pos_;
	in_len_ = in_pos_ = 0;
	while (want > 0) {
		// Bytes just peeked: they are there. Into the buffer, whose
		// contents were handed already.
		ssize_t n = ::recv(setup_.fd, peek_buffer(), want, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			last_io_errno_ = n < 0 ? errno : ECONNRESET;
			return make_error(EIO,
			                  "cannot consume %zu handshake bytes from the socket: %s",
			                  want, n < 0 ? strerror(errno) : "end of stream");
		}
		want -= static_cast<size_t>(n);
	}
	return {};
}

// GnuTLS's writes are collected and sent at the end of the step
// (flush_output()): a flight GnuTLS writes record by record -- the client's
// change_cipher_spec and Finished, the server's whole flight -- is one send.
ssize_t TlsSession::vec_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt) {
	auto *self = static_cast<TlsSession *>(ptr);
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++) {
		const auto *p = static_cast<const uint8_t *>(iov[i].iov_base);
		self->out_.insert(self->out_.end(), p, p + iov[i].iov_len);
		total += iov[i].iov_len;
	}
	return static_cast<ssize_t>(total);
}

bool TlsSession::flush_output() {
	while (out_sent_ < out_.size()) {
		ssize_t n = ::send(setup_.fd, out_.data() + out_sent_, out_.size() - out_sent_,
		                   MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			nagle_off(); // the flight goes in pieces
			return true; // the rest when the socket is writable
		}
		if (n < 0) {
			last_io_errno_ = errno;
			return false;
		}
		out_sent_ += static_cast<size_t>(n);
	}
	std::vector<uint8_t>().swap(out_); // a handshake in flight keeps no buffer
	out_sent_ = 0;
	return true;
}

int TlsSession::pull_timeout(gnutls_transport_ptr_t ptr, unsigned) {
	// Never waits: the event loop does the waiting.
	auto *self = static_cast<TlsSession *>(ptr);
	if (self->in_pos_ < self->in_len_)
		return 1;
	pollfd p{self->setup_.fd, POLLIN, 0};
	int n = ::poll(&p, 1, 0);
	return n < 0 ? -1 : n;
}

} // namespace tlsup
