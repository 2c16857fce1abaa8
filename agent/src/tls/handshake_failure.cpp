// SPDX-License-Identifier: GPL-2.0
#include "handshake_failure.hpp"

#include <cstring>

namespace tlsup {

namespace {

bool is_closed_error(int ret, int io_errno) {
	switch (ret) {
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
		return true;
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		return io_errno == ECONNRESET || io_errno == EPIPE || io_errno == 0;
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

} // namespace

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
	// A server that requires a certificate (x509.client_auth) and got none.
	if (ret == GNUTLS_E_CERTIFICATE_REQUIRED)
		return make_error(EACCES, "the client sent no certificate, and "
		                          "[authenticate.server] x509.client_auth requires one");
	if (is_rejection(ret))
		return make_error(EACCES, "negotiation failed: %s", gnutls_strerror(ret));
	return make_error(EIO, "handshake failed: %s", gnutls_strerror(ret));
}

FailureDecision decide_failure(const FailureFacts &f) {
	using Tell = FailureDecision::Tell;
	int ret = f.gnutls_error;
	if (f.verdict)
		return {*f.verdict, f.verdict->code == EKEYREJECTED ? Tell::UnknownPskIdentity
		                                                    : Tell::Appropriate};
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED && f.role == Role::Client && f.auth == Auth::Psk &&
	    f.alert == GNUTLS_A_UNKNOWN_PSK_IDENTITY)
		return {make_error(EKEYREJECTED, "the server does not know PSK identity %d",
		                   f.psk_serial),
		        Tell::Nothing};
	if (f.role == Role::Server && f.auth == Auth::Psk && f.psk_serial &&
	    (ret == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER || ret == GNUTLS_E_DECRYPTION_FAILED))
		return {make_error(EACCES, "PSK binder for key %d did not verify (wrong key?)",
		                   f.psk_serial),
		        Tell::Appropriate};
	bool peer_done = ret == GNUTLS_E_FATAL_ALERT_RECEIVED || is_closed_error(ret, f.io_errno);
	return {classify_handshake_error(ret, f.io_errno, f.alert),
	        peer_done ? Tell::Nothing : Tell::Appropriate};
}

} // namespace tlsup
