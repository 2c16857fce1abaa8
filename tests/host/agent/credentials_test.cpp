// SPDX-License-Identifier: GPL-2.0
//
// What loading the configured material says about it: a server without a
// trust store of its own trusts every CA of the system's for its clients,
// which tlsupd accepts (as ktls-utils does) and says loudly.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace tlsup::test {
namespace {

TEST(Credentials, ServerWithoutTruststoreIsWarnedAbout) {
	ConfigSpec spec;
	spec.server_ca.clear(); // [authenticate.server] x509.truststore unset
	spec.server_cert = spec.server_key = "server";
	auto creds = make_credentials(spec);
	ASSERT_EQ(creds->warnings.size(), 1u);
	const std::string &w = creds->warnings[0];
	EXPECT_NE(w.find("[authenticate.server] x509.truststore"), std::string::npos) << w;
	EXPECT_NE(w.find("system trust store"), std::string::npos) << w;
	EXPECT_EQ(creds->server.ca_count == 0, w.find("(0 CAs)") != std::string::npos) << w;
}

TEST(Credentials, ServerWithTruststoreIsNot) {
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	EXPECT_TRUE(make_credentials(spec)->warnings.empty());
	// A client trusting the system store for servers is the usual case.
	spec.client_ca.clear();
	EXPECT_TRUE(make_credentials(spec)->warnings.empty());
}

} // namespace
} // namespace tlsup::test
