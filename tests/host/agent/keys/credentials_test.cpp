// SPDX-License-Identifier: GPL-2.0
//
// What loading the configured material says about it: a server without a
// trust store of its own trusts every CA of the system's for its clients,
// which tlsupd accepts (as ktls-utils does) and says loudly; so is a key file
// anyone may read, or a file someone other than root may replace.
#include <filesystem>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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

struct stat with_mode(mode_t mode, uid_t uid = 0) {
	struct stat st {};
	st.st_mode = S_IFREG | mode;
	st.st_uid = uid;
	return st;
}

TEST(FileExposure, WhatIsWrongWithAFilesMode) {
	EXPECT_EQ(file_exposure(with_mode(0600), true, 0), "");
	EXPECT_EQ(file_exposure(with_mode(0640), true, 0), ""); // ssl-cert group
	EXPECT_EQ(file_exposure(with_mode(0644), false, 0), "");
	EXPECT_EQ(file_exposure(with_mode(0400, 107), true, 107), ""); // the agent's own
	EXPECT_EQ(file_exposure(with_mode(0644), true, 0),
	          "any user may read this private key (mode 0644; chmod o-rwx)");
	EXPECT_EQ(file_exposure(with_mode(0602), true, 0),
	          "any user may write this private key (mode 0602; chmod o-rwx)");
	EXPECT_EQ(file_exposure(with_mode(0646), false, 0),
	          "any user may replace it (mode 0646; chmod o-w)");
	EXPECT_EQ(file_exposure(with_mode(0664), false, 0),
	          "its group may replace it (mode 0664; chmod g-w)");
	EXPECT_EQ(file_exposure(with_mode(0600, 1000), true, 0),
	          "it belongs to uid 1000, who may replace it (chown root)");
	EXPECT_EQ(file_exposure(with_mode(0666, 1000), true, 0),
	          "any user may read this private key (mode 0666; chmod o-rwx); its group may "
	          "replace it (mode 0666; chmod g-w); it belongs to uid 1000, who may replace "
	          "it (chown root)");
}

TEST(FileExposure, LoadingWarnsOfAWorldReadableKeyByItsConfigurationKey) {
	const Pki &pki = Pki::get();
	char tmpl[] = "/tmp/tlsup-exposure.XXXXXX";
	ASSERT_NE(mkdtemp(tmpl), nullptr);
	std::string dir = tmpl, key = dir + "/server.key";
	std::filesystem::copy_file(pki.path("server.key"), key);
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	Config cfg = make_config(spec);
	cfg.server.private_key = key;

	ASSERT_EQ(chmod(key.c_str(), 0600), 0);
	auto quiet = load_credentials(cfg);
	ASSERT_TRUE(quiet.ok()) << quiet.error().reason;
	EXPECT_TRUE(quiet.value()->warnings.empty());

	ASSERT_EQ(chmod(key.c_str(), 0644), 0);
	auto loud = load_credentials(cfg);
	ASSERT_TRUE(loud.ok()) << loud.error().reason; // a warning, not a refusal
	ASSERT_EQ(loud.value()->warnings.size(), 1u);
	const std::string &w = loud.value()->warnings[0];
	EXPECT_NE(w.find("[authenticate.server] x509.private_key"), std::string::npos) << w;
	EXPECT_NE(w.find(key + ": any user may read this private key (mode 0644"),
	          std::string::npos)
	        << w;
	std::filesystem::remove_all(dir);
}

} // namespace
} // namespace tlsup::test
