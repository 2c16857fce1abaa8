// SPDX-License-Identifier: GPL-2.0
//
// The GnuTLS credentials of one session, per role and mode: the identity a
// client or server presents (the kernel's key serials first, then the
// configured files) and the PSK credentials. The peer is verified by the
// engine's own callback (peer_verify), so no trust goes in here.
#pragma once

#include "gnutls_handles.hpp"
#include "psk_lookup.hpp"
#include "result.hpp"
#include "session_setup.hpp"

namespace tlsup {

// Certificate credentials for SETUP. With Auth::X509 they carry the
// identity: the first CERTIFICATE pair the kernel named (EINVAL for a pair
// with one half only; ENOKEY when unreadable, malformed or not matching),
// else the role's configured one (ENOKEY when there is none). Anonymous
// clients present nothing.
Result<CertCredentials> certificate_credentials(const SessionSetup &setup);

// A client's credentials offering PSK.
Result<PskClientCredentials> psk_client_credentials(const Psk &psk);

// A server's, asking LOOKUP for the key of the identity the client names.
Result<PskServerCredentials>
psk_server_credentials(gnutls_psk_server_credentials_function2 *lookup);

} // namespace tlsup
