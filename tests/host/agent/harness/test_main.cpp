// SPDX-License-Identifier: GPL-2.0
#include <gnutls/gnutls.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

int main(int argc, char **argv) {
	::testing::InitGoogleTest(&argc, argv);
	// Keys a test adds stay out of the caller's keyrings and of other
	// tests running at the same time.
	tlsup::test::join_private_session_keyring();
	return RUN_ALL_TESTS();
}
