// SPDX-License-Identifier: GPL-2.0
//
// The INI configuration: ktls-utils' keys, [agent], and the errors that
// stop start-up (naming file, line and key).
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

#include "config.hpp"
#include "credentials.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

Config parse_ok(const std::string &text) {
	auto c = parse_config(text, "t.conf");
	EXPECT_TRUE(c.ok()) << (c ? "" : c.error().reason);
	return c ? std::move(c).value() : Config{};
}

std::string parse_err(const std::string &text) {
	auto c = parse_config(text, "t.conf");
	EXPECT_FALSE(c.ok()) << text;
	if (c)
		return {};
	EXPECT_EQ(c.error().code, EINVAL);
	return c.error().reason;
}

TEST(Config, EmptyGivesDefaults) {
	Config c = parse_ok("");
	EXPECT_EQ(c.workers, 0u);
	EXPECT_EQ(c.max_inflight, 1024u);
	EXPECT_EQ(c.default_timeout_ms, 20000u);
	EXPECT_EQ(c.reverse_dns_timeout_ms, 2000u);
	EXPECT_EQ(c.log_level, kLogInfo);
	EXPECT_EQ(c.control_socket, kDefaultControlSocket);
	EXPECT_TRUE(c.keyrings.empty());
	EXPECT_TRUE(c.client.truststore.empty());
}

TEST(Config, ReverseDnsIsOffUnlessAskedFor) {
	EXPECT_FALSE(parse_ok("").reverse_dns);
	EXPECT_EQ(parse_ok("").reverse_dns_threads, 2u);
	Config c = parse_ok("[agent]\nreverse_dns = yes\nreverse_dns_threads = 4\n");
	EXPECT_TRUE(c.reverse_dns);
	EXPECT_EQ(c.reverse_dns_threads, 4u);
	EXPECT_FALSE(parse_ok("[agent]\nreverse_dns = no\n").reverse_dns);
	parse_err("[agent]\nreverse_dns = maybe\n");
	parse_err("[agent]\nreverse_dns_threads = 0\n");
}

TEST(Config, PskKeyrings) {
	Config c = parse_ok("[authenticate]\nkeyrings = a\npsk_keyrings = b;c\n");
	EXPECT_EQ(c.keyrings, std::vector<std::string>{"a"});
	EXPECT_EQ(c.psk_keyrings, (std::vector<std::string>{"b", "c"}));
}

TEST(Config, KtlsUtilsConfigurationIsAccepted) {
	Config c = parse_ok("# tlshd configuration\n"
	                    "[debug]\n"
	                    "loglevel=1\n"
	                    "tls=0\n"
	                    "nl=0\n"
	                    "\n"
	                    "[authenticate]\n"
	                    "keyrings=.mykeys;4242;other\n"
	                    "\n"
	                    "[authenticate.client]\n"
	                    "x509.truststore= /etc/pki/ca.pem\n"
	                    "x509.crl = /etc/pki/crl.pem\n"
	                    "x509.certificate=/etc/pki/client.pem\n"
	                    "x509.private_key=/etc/pki/client.key\n"
	                    "\n"
	                    "[authenticate.server]\n"
	                    "x509.certificate=/etc/pki/server.pem\n"
	                    "x509.private_key=/etc/pki/server.key\n"
	                    "x509.pq.certificate=/etc/pki/mldsa.pem\n");
	EXPECT_EQ(c.log_level, kLogDebug);
	EXPECT_EQ(c.keyrings, (std::vector<std::string>{".mykeys", "4242", "other"}));
	EXPECT_EQ(c.client.truststore, "/etc/pki/ca.pem");
	EXPECT_EQ(c.client.crl, "/etc/pki/crl.pem");
	EXPECT_EQ(c.client.certificate, "/etc/pki/client.pem");
	EXPECT_EQ(c.client.private_key, "/etc/pki/client.key");
	EXPECT_EQ(c.server.certificate, "/etc/pki/server.pem");
	EXPECT_TRUE(c.server.truststore.empty());
	// Known to tlshd, not acted on: accepted, and reported.
	EXPECT_NE(std::find(c.ignored.begin(), c.ignored.end(),
	                    "authenticate.server.x509.pq.certificate"),
	          c.ignored.end());
	EXPECT_NE(std::find(c.ignored.begin(), c.ignored.end(), "debug.tls"), c.ignored.end());
	EXPECT_EQ(c.where("authenticate.client", "x509.crl"),
	          "t.conf:12: [authenticate.client] x509.crl");
}

TEST(Config, FirstTlshdFormatIsAccepted) {
	Config c = parse_ok("[main]\ndebug=0\ntlsdebug=0\nnl_debug=0\nkeyrings=a;b\n");
	EXPECT_EQ(c.keyrings, (std::vector<std::string>{"a", "b"}));
}

TEST(Config, AgentSection) {
	Config c = parse_ok("[agent]\n"
	                    "workers = 3\n"
	                    "max_inflight = 64\n"
	                    "default_timeout_ms = 5000\n"
	                    "reverse_dns_timeout_ms = 0\n"
	                    "log_level = notice\n"
	                    "control_socket = /tmp/x.sock\n");
	EXPECT_EQ(c.workers, 3u);
	EXPECT_EQ(c.max_inflight, 64u);
	EXPECT_EQ(c.default_timeout_ms, 5000u);
	EXPECT_EQ(c.reverse_dns_timeout_ms, 0u);
	EXPECT_EQ(c.log_level, kLogNotice);
	EXPECT_EQ(c.control_socket, "/tmp/x.sock");
	EXPECT_EQ(parse_ok("[agent]\nlog_level=7\n").log_level, 7);
	EXPECT_EQ(parse_ok("[agent]\nlog_level=warning\n").log_level, kLogWarning);
}

TEST(Config, AgentLogLevelWinsOverDebugLoglevel) {
	EXPECT_EQ(parse_ok("[agent]\nlog_level=err\n[debug]\nloglevel=5\n").log_level, kLogErr);
}

TEST(Config, SemicolonAfterSpaceDoesNotTruncateAList) {
	// GLib (tlshd) has no inline comments: "a; b" is two keyrings.
	EXPECT_EQ(parse_ok("[authenticate]\nkeyrings = .a; .b ;.c\n").keyrings,
	          (std::vector<std::string>{".a", ".b", ".c"}));
}

TEST(Config, LongPathsSurvive) {
	std::string path = "/" + std::string(400, 'p');
	EXPECT_EQ(
	        parse_ok("[authenticate.client]\nx509.truststore=" + path + "\n").client.truststore,
	        path);
}

TEST(Config, CommentsAndBlankLinesAndCrlf) {
	Config c = parse_ok("; comment\r\n# another\r\n\r\n[agent]\r\nworkers=2\r\n");
	EXPECT_EQ(c.workers, 2u);
}

TEST(Config, ErrorsNameFileLineSectionAndKey) {
	EXPECT_EQ(parse_err("[agent]\n\nworkers = many\n"),
	          "t.conf:3: [agent] workers: 'many' is not a number");
	EXPECT_EQ(parse_err("[agent]\nbogus=1\n"), "t.conf:2: [agent] bogus: unknown key");
	EXPECT_EQ(parse_err("[nope]\nx=1\n"), "t.conf:2: [nope] x: unknown section");
	EXPECT_EQ(parse_err("x=1\n"), "t.conf:1: [] x: key outside any section");
	EXPECT_EQ(parse_err("[agent]\nmax_inflight=0\n"),
	          "t.conf:2: [agent] max_inflight: 0 is out of range [1, 1000000]");
	EXPECT_EQ(parse_err("[authenticate.client]\nx509.crl=relative/crl.pem\n"),
	          "t.conf:2: [authenticate.client] x509.crl: 'relative/crl.pem' is not an "
	          "absolute path");
	EXPECT_EQ(parse_err("[agent]\nworkers=1\nworkers=2\n"),
	          "t.conf:3: [agent] workers: repeated (first on line 2)");
	EXPECT_NE(parse_err("[agent]\nlog_level=loud\n").find("t.conf:2: [agent] log_level"),
	          std::string::npos);
	EXPECT_NE(parse_err("[authenticate.server]\nx509.cert=/a\n").find("unknown key"),
	          std::string::npos);
	EXPECT_NE(parse_err("[debug]\nloglevel=x\n").find("t.conf:2"), std::string::npos);
}

TEST(Config, SyntaxErrorsNameTheLine) {
	EXPECT_EQ(parse_err("[agent]\nworkers 2\n"),
	          "t.conf:2: syntax error (expected [section] or key = value)");
	EXPECT_EQ(parse_err("[agent\nworkers=2\n"),
	          "t.conf:1: syntax error (expected [section] or key = value)");
	EXPECT_NE(parse_err("[agent]\nworkers=2\n  3\n").find("continuation"), std::string::npos);
	EXPECT_NE(parse_err(std::string("[agent]\nwor\0kers=2\n", 20)).find("t.conf:2"),
	          std::string::npos);
}

TEST(Config, FirstErrorWins) {
	EXPECT_EQ(parse_err("[agent]\nbogus=1\nworkers=x\n"),
	          "t.conf:2: [agent] bogus: unknown key");
	EXPECT_EQ(parse_err("[agent]\nworkers 2\nbogus=1\n"),
	          "t.conf:2: syntax error (expected [section] or key = value)");
}

std::string write_temp(const std::string &text) {
	char path[] = "/tmp/tlsupd-conf.XXXXXX";
	int fd = mkstemp(path);
	EXPECT_GE(fd, 0);
	EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
	::close(fd);
	return path;
}

TEST(ConfigFile, LoadsAndNamesTheFile) {
	std::string p = write_temp("[agent]\nworkers=4\n");
	auto c = load_config_file(p);
	ASSERT_TRUE(c.ok()) << c.error().reason;
	EXPECT_EQ(c->workers, 4u);
	EXPECT_EQ(c->source, p);
	std::string bad = write_temp("[agent]\nworkers=four\n");
	auto e = load_config_file(bad);
	ASSERT_FALSE(e.ok());
	EXPECT_EQ(e.error().reason.rfind(bad + ":2: [agent] workers", 0), 0u) << e.error().reason;
	unlink(p.c_str());
	unlink(bad.c_str());
}

TEST(ConfigFile, MissingFileOrDirectoryFails) {
	auto m = load_config("/nonexistent/tlsupd.conf");
	ASSERT_FALSE(m.ok());
	EXPECT_NE(m.error().reason.find("/nonexistent/tlsupd.conf"), std::string::npos);
	auto d = load_config_file("/tmp");
	ASSERT_FALSE(d.ok());
	EXPECT_NE(d.error().reason.find("not a regular file"), std::string::npos);
}

// Credentials: problems with the files a key names report that key's line.
std::string creds_err(const std::string &text) {
	auto cfg = parse_config(text, "c.conf");
	EXPECT_TRUE(cfg.ok()) << (cfg ? "" : cfg.error().reason);
	if (!cfg)
		return {};
	auto creds = load_credentials(cfg.value());
	EXPECT_FALSE(creds.ok());
	return creds ? std::string() : creds.error().reason;
}

TEST(Credentials, LoadsTheConfiguredMaterial) {
	const Pki &pki = Pki::get();
	auto cfg = parse_config("[authenticate.client]\nx509.truststore=" + pki.path("ca.pem") +
	                                "\nx509.crl=" + pki.path("crl.pem") +
	                                "\nx509.certificate=" + pki.path("client.pem") +
	                                "\nx509.private_key=" + pki.path("client.key") + "\n",
	                        "c.conf");
	ASSERT_TRUE(cfg.ok());
	auto creds = load_credentials(cfg.value());
	ASSERT_TRUE(creds.ok()) << creds.error().reason;
	EXPECT_EQ(creds.value()->client.ca_count, 1u);
	EXPECT_EQ(creds.value()->client.crl_count, 1u);
	ASSERT_TRUE(creds.value()->client.identity);
	EXPECT_EQ(creds.value()->client.identity->chain.size(), 1u);
	EXPECT_FALSE(creds.value()->server.identity);
}

TEST(Credentials, ErrorsNameTheKeysLine) {
	const Pki &pki = Pki::get();
	EXPECT_EQ(creds_err("[authenticate.client]\n\nx509.truststore=/nonexistent/ca.pem\n")
	                  .rfind("c.conf:3: [authenticate.client] x509.truststore: cannot open "
	                         "/nonexistent/ca.pem",
	                         0),
	          0u);
	EXPECT_NE(
	        creds_err("[authenticate.server]\nx509.certificate=" + pki.path("server.pem") +
	                  "\n")
	                .find("c.conf:2: [authenticate.server] x509.certificate: x509.private_key "
	                      "is not set"),
	        std::string::npos);
	EXPECT_NE(creds_err("[authenticate.server]\nx509.certificate=" + pki.path("server.pem") +
	                    "\nx509.private_key=" + pki.path("client.key") + "\n")
	                  .find("c.conf:3: [authenticate.server] x509.private_key: the private key "
	                        "does not belong"),
	          std::string::npos);
	EXPECT_NE(
	        creds_err("[authenticate.client]\nx509.truststore=" + pki.path("client.key") + "\n")
	                .find("no CA certificate"),
	        std::string::npos);
	// A CRL no trusted CA signed would silently check nothing.
	EXPECT_NE(creds_err("[authenticate.client]\nx509.truststore=" + pki.path("rogue-ca.pem") +
	                    "\nx509.crl=" + pki.path("crl.pem") + "\n")
	                  .find("c.conf:3: [authenticate.client] x509.crl: no CRL signed by a "
	                        "trusted"),
	          std::string::npos);
	EXPECT_NE(creds_err("[authenticate.client]\nx509.certificate=" + pki.path("ca.key") +
	                    "\nx509.private_key=" + pki.path("ca.key") + "\n")
	                  .find("no PEM certificate"),
	          std::string::npos);
}

TEST(Credentials, DerPayloadsParse) {
	const Pki &pki = Pki::get();
	auto one = pki.cert_der("client");
	auto chain = import_der_chain(one);
	ASSERT_TRUE(chain.ok()) << chain.error().reason;
	EXPECT_EQ(chain->size(), 1u);
	auto two = one;
	auto ca = pki.cert_der("ca");
	two.insert(two.end(), ca.begin(), ca.end());
	EXPECT_EQ(import_der_chain(two).value().size(), 2u);
	auto truncated = one;
	truncated.pop_back();
	EXPECT_FALSE(import_der_chain(truncated).ok());
	EXPECT_FALSE(import_der_chain(std::vector<uint8_t>{}).ok());
	EXPECT_TRUE(import_der_privkey(pki.key_der("client")).ok());
	EXPECT_FALSE(import_der_privkey(one).ok());
}

} // namespace
} // namespace tlsup::test
