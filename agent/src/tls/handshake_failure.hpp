// SPDX-License-Identifier: GPL-2.0
//
// Why a handshake failed: one decision, from everything known when
// gnutls_handshake() gave up, to a DONE status with a reason and what (if
// anything) to tell the peer.
#pragma once

#include <gnutls/gnutls.h>
#include <keyutils.h>
#include <optional>

#include "result.hpp"
#include "session_setup.hpp"

namespace tlsup {

struct FailureFacts {
	int gnutls_error = 0;
	int io_errno = 0; // the socket error behind a pull/push failure (0: end of file)
	// The peer's alert, for GNUTLS_E_FATAL_ALERT_RECEIVED.
	gnutls_alert_description_t alert = GNUTLS_A_CLOSE_NOTIFY;
	// What one of the engine's callbacks decided (certificate verification,
	// PSK lookup): GnuTLS carries only a number out of them.
	std::optional<Error> verdict;
	Role role = Role::Client;
	Auth auth = Auth::Anonymous;
	key_serial_t psk_serial = 0; // the PSK in use, if any
};

struct FailureDecision {
	Error error;
	// Best effort, the socket being non-blocking: an unknown identity gets
	// its own alert (ktls-utils' and our clients report it as
	// EKEYREJECTED); otherwise GnuTLS's alert for the error, unless the
	// peer already ended the connection.
	enum class Tell { Nothing, Appropriate, UnknownPskIdentity } tell = Tell::Nothing;
};

FailureDecision decide_failure(const FailureFacts &facts);

// The DONE status for a fatal gnutls_handshake() result on its own: a
// peer's alert (close_notify included) or a failed negotiation is EACCES,
// a connection the peer closed without a word is ETIMEDOUT, GnuTLS out of
// memory is ENOMEM, anything else EIO.
Error classify_handshake_error(int gnutls_error, int io_errno,
                               gnutls_alert_description_t alert = GNUTLS_A_CLOSE_NOTIFY);

} // namespace tlsup
