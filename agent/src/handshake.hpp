// SPDX-License-Identifier: GPL-2.0
//
// The handshake engine: one non-blocking GnuTLS TLS 1.3 session on the
// kernel's socket, stepped by a worker's event loop. It reads the socket
// one TLS record at a time and stops at the peer's Finished, so whatever
// the peer sends next stays in the socket for kTLS. It installs nothing:
// when it is done it reports the traffic secrets and the peer's identities.
#pragma once

#include <cstdint>
#include <keyutils.h>
#include <memory>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <vector>

#include "credentials.hpp"
#include "gnutls_handles.hpp"
#include "keyring.hpp"
#include "ktls_install.hpp"
#include "log.hpp"
#include "netlink_messages.hpp"
#include "peer_verify.hpp"
#include "result.hpp"
#include "secret_bytes.hpp"

namespace tlsup {

enum class Role { Client, Server };

// TLS 1.3 only, kTLS ciphers only. One set per worker.
class Priorities {
public:
	static Result<std::unique_ptr<Priorities>> create();

	gnutls_priority_t certificate() const { return x509_.get(); }
	// The PSK's hash follows its length (32: SHA-256, 48: SHA-384) as in
	// ktls-utils; the cipher suites offered must use the same hash.
	gnutls_priority_t psk(size_t key_length) const;

private:
	Priority x509_, psk_any_, psk_sha256_, psk_sha384_;
};

// Names reverse DNS gave for a peer's address (looked up by the worker
// before the handshake), or why it gave none.
struct ReverseNames {
	std::vector<std::string> names;
	std::string failure;
};

struct SessionSetup {
	int fd = -1; // the kernel's socket; borrowed, never closed here
	Role role = Role::Client;
	uint32_t auth_mode = 0; // HANDSHAKE_AUTH_*
	std::optional<std::string> peername;
	std::vector<key_serial_t> peer_identities;
	std::vector<CertificatePair> certificates;
	key_serial_t keyring = 0; // the request's KEYRING, 0 if none
	// The configured keyrings, searched with the request's for server
	// PSKs, and the keyrings whose "user" keys count as PSKs where they are
	// searched; see find_server_psk().
	std::vector<key_serial_t> keyrings;
	std::vector<key_serial_t> psk_keyrings;
	const PeerCertificateKeys *peer_keys = nullptr; // where verified certificates go
	// A client without PEERNAME whose server certificate does not hold the
	// peer's address in its IP SANs: these names may match instead.
	// nullopt: reverse DNS name matching is off (the default).
	std::optional<ReverseNames> reverse_names;
	std::shared_ptr<const Credentials> credentials;
	const Priorities *priorities = nullptr;
};

// The DONE status for a fatal gnutls_handshake() result: a peer's alert
// (close_notify included) or a failed negotiation is EACCES, a connection
// the peer closed without a word is ETIMEDOUT,
// GnuTLS out of memory is ENOMEM, anything else EIO. IO_ERRNO is the
// socket error behind a pull/push failure (0 for end of file).
Error classify_handshake_error(int gnutls_error, int io_errno,
                               gnutls_alert_description_t alert = GNUTLS_A_CLOSE_NOTIFY);

// The setup for an accepted request (validate_request() already passed).
SessionSetup setup_for(const HandshakeRequest &req);

class TlsSession {
public:
	enum class Progress { WantRead, WantWrite, Done };

	// Reads the key material the request names (ENOKEY when missing) and
	// prepares the session; no I/O on the socket yet.
	static Result<std::unique_ptr<TlsSession>> create(SessionSetup setup, const Log &log);
	~TlsSession();
	TlsSession(const TlsSession &) = delete;
	TlsSession &operator=(const TlsSession &) = delete;

	// Drives the handshake as far as the socket allows. Errors carry the
	// DONE status: EACCES, EKEYREJECTED, ETIMEDOUT (peer closed), ENOMEM,
	// EIO.
	Result<Progress> step();

	// After Done: the secrets kTLS needs. EIO if GnuTLS holds bytes it read
	// past the handshake or negotiated something kTLS cannot take.
	Result<TrafficSecrets> traffic_secrets() const;

	// After Done: the key serials that identify the authenticated peer
	// (the PSK's key, or a key holding the verified certificate); empty for
	// a server whose client sent no certificate.
	Result<std::vector<uint32_t>> remote_identities();

	// Puts TCP_NODELAY back as it was before the handshake.
	void restore_nagle();

	gnutls_session_t gnutls() const { return session_.get(); }
	Role role() const { return setup_.role; }

private:
	TlsSession(SessionSetup setup, const Log &log);
	Result<void> init_session();
	Result<void> init_x509();
	Result<void> init_psk_client();
	Result<void> init_psk_server();
	int verify_peer();
	int lookup_psk(const gnutls_datum_t *username, gnutls_datum_t *key);
	Result<key_serial_t> find_server_psk(const std::string &identity) const;
	Error failure(int gnutls_error);

	static int verify_callback(gnutls_session_t session);
	static int psk_callback(gnutls_session_t session, const gnutls_datum_t *username,
	                        gnutls_datum_t *key);
	static ssize_t pull(gnutls_transport_ptr_t ptr, void *buf, size_t len);
	static ssize_t vec_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt);
	static int pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms);

	SessionSetup setup_;
	const Log &log_;
	GnutlsSession session_;
	CertCredentials cert_cred_;
	PskClientCredentials psk_client_cred_;
	PskServerCredentials psk_server_cred_;

	sockaddr_storage peer_addr_{};
	std::optional<int> saved_nodelay_;

	// The record boundary guard: bytes of the current record header seen,
	// and body bytes still to come.
	uint8_t header_[5] = {};
	size_t header_have_ = 0;
	size_t body_left_ = 0;
	int last_io_errno_ = 0; // the socket error behind a pull/push failure

	std::optional<Error> callback_error_; // set by the verify/PSK callbacks
	bool handshake_done_ = false;
	bool identities_ready_ = false;
	PeerChain peer_chain_;
	key_serial_t psk_serial_ = 0;
	std::vector<uint32_t> remote_ids_;
};

} // namespace tlsup
