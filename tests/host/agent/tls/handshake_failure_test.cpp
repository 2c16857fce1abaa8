// SPDX-License-Identifier: GPL-2.0
//
// The one decision that turns a failed handshake into a DONE status and an
// alert for the peer.
#include <gtest/gtest.h>

#include "done_status.hpp"
#include "handshake_failure.hpp"

namespace tlsup {
namespace {

using Tell = FailureDecision::Tell;

TEST(DecideFailure, ACallbacksVerdictWinsAndTellsThePeer) {
	FailureFacts f;
	f.gnutls_error = GNUTLS_E_CERTIFICATE_ERROR;
	f.verdict = make_error(EACCES, "server certificate does not match 'x'");
	auto d = decide_failure(f);
	EXPECT_EQ(d.error.code, EACCES);
	EXPECT_EQ(d.error.reason, "server certificate does not match 'x'");
	EXPECT_EQ(d.tell, Tell::Appropriate);
	f.verdict = make_error(EKEYREJECTED, "no key for PSK identity 'y'");
	EXPECT_EQ(decide_failure(f).tell, Tell::UnknownPskIdentity);
}

TEST(DecideFailure, AClientToldItsPskIsUnknownIsEkeyrejected) {
	FailureFacts f;
	f.gnutls_error = GNUTLS_E_FATAL_ALERT_RECEIVED;
	f.alert = GNUTLS_A_UNKNOWN_PSK_IDENTITY;
	f.role = Role::Client;
	f.auth = Auth::Psk;
	f.psk_serial = 42;
	auto d = decide_failure(f);
	EXPECT_EQ(d.error.code, EKEYREJECTED);
	EXPECT_EQ(d.tell, Tell::Nothing); // the server ended it
	f.auth = Auth::X509;              // the same alert outside PSK: a rejection
	EXPECT_EQ(decide_failure(f).error.code, EACCES);
}

TEST(DecideFailure, AServersBadBinderIsEacces) {
	FailureFacts f;
	f.role = Role::Server;
	f.auth = Auth::Psk;
	f.psk_serial = 7;
	for (int e : {GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER, GNUTLS_E_DECRYPTION_FAILED}) {
		f.gnutls_error = e;
		auto d = decide_failure(f);
		EXPECT_EQ(d.error.code, EACCES);
		EXPECT_NE(d.error.reason.find("binder"), std::string::npos);
	}
}

TEST(DecideFailure, NoAlertToAPeerThatLeft) {
	FailureFacts f;
	f.gnutls_error = GNUTLS_E_PREMATURE_TERMINATION;
	EXPECT_EQ(decide_failure(f).tell, Tell::Nothing);
	EXPECT_EQ(decide_failure(f).error.code, ETIMEDOUT);
	f.gnutls_error = GNUTLS_E_NO_CIPHER_SUITES;
	EXPECT_EQ(decide_failure(f).tell, Tell::Appropriate);
}

TEST(DecideFailure, EveryDecisionIsInTheDoneVocabulary) {
	for (int e = -1; e >= -420; e--) {
		FailureFacts f;
		f.gnutls_error = e;
		for (int io : {0, ECONNRESET, EPIPE, ENOBUFS}) {
			f.io_errno = io;
			auto d = decide_failure(f);
			EXPECT_TRUE(is_done_status(d.error.code)) << e << " " << io;
			EXPECT_NE(d.error.code, 0);
			EXPECT_FALSE(d.error.reason.empty());
		}
	}
}

} // namespace
} // namespace tlsup
