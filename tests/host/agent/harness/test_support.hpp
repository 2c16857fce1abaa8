// SPDX-License-Identifier: GPL-2.0
//
// Shared test fixtures for the agent: a PKI made with certtool, a private
// session keyring, socket pairs, a GnuTLS peer on its own thread, a driver
// for the handshake engine, a log that records lines, and a record codec
// that does what kTLS does with a crypto_info.
#pragma once

#include <chrono>
#include <functional>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <keyutils.h>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config.hpp"
#include "credentials.hpp"
#include "handshake.hpp"
#include "keyring.hpp"
#include "log.hpp"
#include "peer_keys.hpp"
#include "result.hpp"
#include "unique_fd.hpp"

namespace tlsup::test {

// The PKI of make_pki.sh, generated once per test process.
class Pki {
public:
	static const Pki &get();
	std::string path(const std::string &file) const { return dir_ + "/" + file; }
	std::string pem(const std::string &file) const;
	std::vector<uint8_t> cert_der(const std::string &name) const; // NAME.pem -> DER
	std::vector<uint8_t> key_der(const std::string &name) const;  // NAME.key -> DER
	const std::string &dir() const { return dir_; }

private:
	std::string dir_;
};

// A SoftHSM token "tlsupd-test" (user PIN kTokenPin) holding server.key as
// object "srv", made once per test process in a private directory. Empty
// when it is ready, else why not (to skip with).
constexpr const char *kTokenPin = "tlsup-pin-7731";
constexpr const char *kTokenKeyUrl =
        "pkcs11:token=tlsupd-test;object=srv;type=private?pin-value=tlsup-pin-7731";
const std::string &softhsm_token();
// Writes PKI key NAME (e.g. "server") into the token as object LABEL.
bool softhsm_write_key(const std::string &name, const std::string &label);
// Deletes object LABEL from the token.
bool softhsm_delete(const std::string &label);

// Fresh anonymous session keyring for this process (call once, early).
void join_private_session_keyring();
key_serial_t add_user_key(const std::string &desc, std::span<const uint8_t> payload,
                          key_serial_t ring = KEY_SPEC_SESSION_KEYRING);
key_serial_t add_keyring(const std::string &desc, key_serial_t ring);
// A "psk" key (the kernel's NVMe keyring type, 6.7+); -1 when this kernel
// has no such type.
key_serial_t add_psk_key(const std::string &desc, std::span<const uint8_t> payload,
                         key_serial_t ring);
// The agent's keyring for verified peer certificates, made once per process.
const PeerCertificateKeys &peer_keys();
// KEY holds the certificate DER: a "user" key with that payload, or an
// "asymmetric" key (whose payload the kernel does not give back).
void expect_certificate_key(key_serial_t key, const std::vector<uint8_t> &der);
// The expiry column of /proc/keys for KEY ("perm", "23h", ...).
std::string key_expiry(key_serial_t key);
std::vector<uint8_t> bytes(const std::string &s);
std::vector<uint8_t> random_bytes(size_t n);

std::pair<UniqueFd, UniqueFd> unix_pair();
// Connected TCP sockets over loopback (127.0.0.1, or ::1 with ipv6).
// A connected loopback TCP pair: {connecting end, accepted end}.
// ACCEPTED_RCVBUF: the accepted end's SO_RCVBUF from before the connection,
// so the window it offers (and so the other end's segments) stay small.
std::pair<UniqueFd, UniqueFd> tcp_pair(bool ipv6 = false, int accepted_rcvbuf = 0);

// A certificate for "server.test" (key: a copy of server.key) of over
// 40 KB -- a large private extension -- so that its Certificate message
// spans several records, as a long chain or post-quantum certificates do.
// Its PKI name ("big-flight"), made on first use; "" if certtool fails.
std::string big_certificate();

// A Config whose [authenticate.*] point at the PKI.
struct ConfigSpec {
	std::string client_ca = "ca.pem";
	std::string server_ca = "ca.pem";
	std::string crl;                     // "" or "crl.pem"
	std::string client_cert, client_key; // e.g. "client"
	std::string server_cert, server_key;
	std::string client_pq, server_pq; // x509.pq.certificate/private_key, e.g. "server-ed25519"
};
Config make_config(const ConfigSpec &spec);
std::shared_ptr<const Credentials> make_credentials(const ConfigSpec &spec);

// Captures log lines (all levels).
class CaptureLog {
public:
	CaptureLog();
	Log &log() { return log_; }
	std::vector<std::string> lines() const;
	bool contains(const std::string &needle) const;

private:
	mutable std::mutex mu_;
	std::vector<std::string> lines_;
	Log log_;
};

// A GnuTLS peer on its own thread, blocking on its end of the socket.
struct PeerOptions {
	bool server = true;
	std::string priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
	std::string cert, key;   // PKI names of the peer's own identity ("server")
	std::string ca;          // PKI file the peer trusts ("ca.pem"); "" = no verification
	std::string verify_name; // client peer: the name it expects of the agent
	bool request_client_cert = false; // server peer
	bool require_client_cert = false;
	bool tickets = false; // server peer sends NewSessionTickets
	// RFC 8449: the largest record the peer accepts (0: GnuTLS's default).
	size_t record_size_limit = 0;

	std::string psk_identity; // client peer
	std::vector<uint8_t> psk_key;
	std::map<std::string, std::vector<uint8_t>> psk_keys; // server peer

	enum class Misbehave {
		None,
		CloseAfterFirstMessage, // shuts the socket after its peer's first message
		Stall,                  // reads nothing, writes nothing
	};
	Misbehave misbehave = Misbehave::None;

	// Sent in the same write as the peer's last handshake flight (a
	// server uses GNUTLS_ENABLE_EARLY_START for that).
	std::string data_after;
	// Bytes the peer then reads from the agent (through the record layer).
	size_t receive_after = 0;
};

struct PeerOutcome {
	int ret = 0; // gnutls_handshake's result
	std::string error;
	gnutls_cipher_algorithm_t cipher = GNUTLS_CIPHER_UNKNOWN;
	std::string received;
	int receive_ret = 0;
	std::vector<uint8_t> agent_cert_der; // what the agent presented, if any
	bool saw_client_certificate = false; // server peer: a client Certificate arrived
	int client_hellos = 0;               // server peer: ClientHellos received
};

class Peer {
public:
	Peer(UniqueFd fd, PeerOptions opts);
	~Peer();
	PeerOutcome wait();
	void release_stall(); // lets a stalling peer end

private:
	void run();
	UniqueFd fd_;
	PeerOptions opts_;
	PeerOutcome out_;
	std::thread thread_;
	int stall_pipe_[2] = {-1, -1};
};

// Steps SESSION until it finishes (Done) or fails.
Result<TlsSession::Progress> drive(TlsSession &session, int fd,
                                   std::chrono::milliseconds limit = std::chrono::seconds(10));

// What kTLS does with a tls12_crypto_info_* (TLS 1.3): seals and opens
// records, counting sequence numbers from rec_seq.
class RecordCodec {
public:
	static Result<RecordCodec> from_crypto_info(std::span<const uint8_t> info);
	// One whole record (header included) -> (content type, plaintext).
	Result<std::pair<uint8_t, std::string>> open(std::span<const uint8_t> record);
	std::vector<uint8_t> seal(uint8_t type, const std::string &plaintext);
	~RecordCodec();
	RecordCodec(RecordCodec &&o) noexcept;
	RecordCodec(const RecordCodec &) = delete;

private:
	RecordCodec() = default;
	std::vector<uint8_t> nonce();
	gnutls_aead_cipher_hd_t aead_ = nullptr;
	std::vector<uint8_t> static_iv_; // salt || iv, 12 bytes
	uint64_t seq_ = 0;
};

// Reads one TLS record from FD (blocking, with a timeout).
Result<std::vector<uint8_t>> read_record(int fd, int timeout_ms = 5000);

} // namespace tlsup::test
