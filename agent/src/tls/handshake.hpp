// SPDX-License-Identifier: GPL-2.0
//
// The handshake engine: one non-blocking GnuTLS TLS 1.3 session on the
// kernel's socket, stepped by a worker's event loop. It peeks at what the
// socket holds, hands GnuTLS one TLS record at a time from that
// (RecordBoundaryGuard), and consumes from the socket only what GnuTLS was
// handed: it stops at the peer's Finished, so whatever the peer sent next
// stays in the socket for kTLS. What GnuTLS writes in a step goes out in
// one send at its end. It installs nothing: when it is done it reports the
// traffic secrets and the peer's identities. Its parts: priorities.*,
// session_credentials.*, psk_lookup.*, peer_verify.*, handshake_failure.*,
// record_guard.*.
#pragma once

#include <cstdint>
#include <keyutils.h>
#include <memory>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <vector>

#include "gnutls_handles.hpp"
#include "ktls_install.hpp"
#include "log.hpp"
#include "peer_verify.hpp"
#include "priorities.hpp"
#include "record_guard.hpp"
#include "result.hpp"
#include "session_credentials.hpp"
#include "session_setup.hpp"

namespace tlsup {

class TlsSession {
public:
	enum class Progress { WantRead, WantWrite, Done };

	// Reads the key material the request names (ENOKEY when missing) and
	// prepares the session; no I/O on the socket yet.
	static Result<std::unique_ptr<TlsSession>> create(SessionSetup setup, const Log &log);
	~TlsSession();
	// Where the session's lines go from now on: a session the acceptor
	// began (with its DeferredLog) logs as the worker that took it over,
	// in order with the worker's own lines.
	void set_log(const Log &log) { log_ = &log; }
	TlsSession(const TlsSession &) = delete;
	TlsSession &operator=(const TlsSession &) = delete;

	// Drives the handshake as far as the socket allows. Errors carry the
	// DONE status: EACCES, EKEYREJECTED, ETIMEDOUT (peer closed), ENOMEM,
	// EIO (decide_failure()).
	Result<Progress> step();

	// After Done: the secrets kTLS needs. EIO if GnuTLS holds bytes it read
	// past the handshake or negotiated something kTLS cannot take.
	Result<TrafficSecrets> traffic_secrets() const;

	// After Done: the key serials that identify the authenticated peer
	// (the PSK's key, or a key holding the verified certificate); empty for
	// a server whose client sent no certificate.
	Result<std::vector<uint32_t>> remote_identities();

	// Puts TCP_NODELAY back as it was before the handshake, if a flight
	// that went in pieces turned Nagle off (nagle_off()).
	void restore_nagle();

	gnutls_session_t gnutls() const { return session_.get(); }
	Role role() const { return setup_.role; }

private:
	TlsSession(SessionSetup setup, const Log &log);
	Result<void> init_session();
	Result<void> init_x509();
	Result<void> init_psk_client();
	Result<void> init_psk_server();
	int on_peer_certificate();
	int on_psk_identity(const gnutls_datum_t *username, gnutls_datum_t *key);
	Error failure(int gnutls_error);

	static int handshake_hook(gnutls_session_t session, unsigned type, unsigned when,
	                          unsigned incoming, const gnutls_datum_t *msg);
	static int verify_callback(gnutls_session_t session);
	static int retrieve_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn,
	                             int nreqs, const gnutls_pk_algorithm_t *pk_algos,
	                             int pk_algos_length, gnutls_pcert_st **pcert,
	                             unsigned *pcert_length, gnutls_privkey_t *privkey);
	static int psk_callback(gnutls_session_t session, const gnutls_datum_t *username,
	                        gnutls_datum_t *key);
	static ssize_t pull(gnutls_transport_ptr_t ptr, void *buf, size_t len);
	// Consumes from the socket what GnuTLS was handed of the last peek.
	Result<void> consume_handed();
	// Sends what GnuTLS wrote; false on an error (last_io_errno_), true
	// when sent or when the rest must wait for the socket.
	bool flush_output();
	void nagle_off();
	Result<Progress> run_handshake();
	static ssize_t vec_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt);
	static int pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms);

	SessionSetup setup_;
	const Log *log_; // never null
	GnutlsSession session_;
	PresentedIdentity identity_; // what a certificate handshake presents
	CertCredentials cert_cred_;
	PskClientCredentials psk_client_cred_;
	PskServerCredentials psk_server_cred_;

	sockaddr_storage peer_addr_{};
	std::optional<int> saved_nodelay_;
	RecordBoundaryGuard guard_;
	// The last peek, in the thread's buffer: IN_LEN_ bytes, of which
	// IN_POS_ were handed to GnuTLS. Empty between steps.
	size_t in_len_ = 0, in_pos_ = 0;
	bool in_short_ = false; // that peek found less than the buffer holds
	// Bytes handed to GnuTLS in this step; and whether pull() left a full
	// peek's successor unread while output was pending (the socket may
	// hold more than the edge that woke us announced).
	size_t step_bytes_ = 0;
	bool read_deferred_ = false;
	// What GnuTLS wrote, OUT_SENT_ bytes of it sent.
	std::vector<uint8_t> out_;
	size_t out_sent_ = 0;
	int last_io_errno_ = 0; // the socket error behind a pull/push failure

	// What a callback decided, for decide_failure(): GnuTLS only carries a
	// number out of a callback.
	std::optional<Error> verdict_;
	bool handshake_done_ = false;
	bool identities_ready_ = false;
	PeerChain peer_chain_;
	key_serial_t psk_serial_ = 0;
	std::optional<size_t> peer_record_limit_; // RFC 8449, as the peer sent it
	std::vector<uint32_t> remote_ids_;
};

} // namespace tlsup
