// SPDX-License-Identifier: GPL-2.0
//
// The GnuTLS credentials of one session, per role and mode: the identity a
// client or server presents (the kernel's key serials first, then the
// configured certificate, and the configured second -- x509.pq --
// certificate when the peer can verify it) and the PSK credentials. The
// peer is verified by the engine's own callback (peer_verify), so no trust
// goes in here.
#pragma once

#include <optional>

#include "credentials.hpp"
#include "gnutls_handles.hpp"
#include "psk_lookup.hpp"
#include "result.hpp"
#include "session_setup.hpp"

namespace tlsup {

// What a session may present.
struct PresentedIdentity {
	std::optional<CertifiedKey> from_kernel; // the request's CERTIFICATE pair
	const CertifiedKey *configured = nullptr;
	const CertifiedKey *alternative = nullptr; // x509.pq.*, when configured

	const CertifiedKey *primary() const { return from_kernel ? &*from_kernel : configured; }
};

// For Auth::X509: the first CERTIFICATE pair the kernel named (EINVAL for a
// pair with one half only; ENOKEY when unreadable, malformed or not
// matching), else the role's configured ones (ENOKEY when there are none).
// The kernel's pair is presented alone, as ktls-utils does.
Result<PresentedIdentity> choose_identity(const SessionSetup &setup);

// Which to present to this peer: the alternative when one of the peer's
// signature algorithms (a server's: the client's signature_algorithms; a
// client's: those of the server's CertificateRequest) can verify its key,
// else the primary. Null when there is nothing to present.
const CertifiedKey *select_identity(const PresentedIdentity &identity, gnutls_session_t session);

// Certificate credentials; RETRIEVE (null: present nothing) hands GnuTLS
// the identity during the handshake without giving it ownership.
Result<CertCredentials> certificate_credentials(gnutls_certificate_retrieve_function2 *retrieve);

// A client's credentials offering PSK.
Result<PskClientCredentials> psk_client_credentials(const Psk &psk);

// A server's, asking LOOKUP for the key of the identity the client names.
Result<PskServerCredentials>
psk_server_credentials(gnutls_psk_server_credentials_function2 *lookup);

} // namespace tlsup
