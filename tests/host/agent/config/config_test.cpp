// SPDX-License-Identifier: GPL-2.0
//
// The configuration: GKeyFile semantics (tlshd's parser), ktls-utils' keys
// in every format ktls-utils has shipped, [agent], the file search order,
// and the errors that stop start-up (naming file, section and key).
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>
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

bool has(const std::vector<std::string> &v, const std::string &s) {
	return std::find(v.begin(), v.end(), s) != v.end();
}

// The notice that mentions NEEDLE, or "".
std::string notice_with(const Config &c, const std::string &needle) {
	for (const auto &n : c.notices)
		if (n.find(needle) != std::string::npos)
			return n;
	return {};
}

TEST(Config, EmptyGivesDefaults) {
	Config c = parse_ok("");
	EXPECT_EQ(c.workers, 0u);
	EXPECT_EQ(c.max_inflight, 1024u);
	EXPECT_EQ(c.max_inflight_per_peer, 64u);
	EXPECT_EQ(c.worker_nice, 5u);
	EXPECT_TRUE(c.acceptor_realtime);
	EXPECT_EQ(c.default_timeout_ms, 20000u);
	EXPECT_EQ(c.reverse_dns_timeout_ms, 2000u);
	EXPECT_EQ(c.log_level, kLogInfo);
	EXPECT_EQ(c.control_socket, kDefaultControlSocket);
	EXPECT_FALSE(c.test_hooks);
	EXPECT_TRUE(c.keyrings.empty());
	EXPECT_TRUE(c.client.truststore.empty());
	EXPECT_TRUE(c.notices.empty());
}

TEST(Config, AcceptorRealtimeIsABoolean) {
	EXPECT_FALSE(parse_ok("[agent]\nacceptor_realtime = false\n").acceptor_realtime);
	EXPECT_FALSE(parse_ok("[agent]\nacceptor_realtime = 0\n").acceptor_realtime);
	EXPECT_TRUE(parse_ok("[agent]\nacceptor_realtime = true\n").acceptor_realtime);
	parse_err("[agent]\nacceptor_realtime = fifo\n");
}

TEST(Config, WorkerNiceIsANiceValueToAdd) {
	EXPECT_EQ(parse_ok("[agent]\nworker_nice = 0\n").worker_nice, 0u);
	EXPECT_EQ(parse_ok("[agent]\nworker_nice = 19\n").worker_nice, 19u);
	parse_err("[agent]\nworker_nice = 20\n");
	parse_err("[agent]\nworker_nice = -5\n"); // never a raise
}

TEST(Config, ReverseDnsIsOffUnlessAskedFor) {
	EXPECT_FALSE(parse_ok("").reverse_dns);
	EXPECT_EQ(parse_ok("").reverse_dns_threads, 2u);
	Config c = parse_ok("[agent]\nreverse_dns = true\nreverse_dns_threads = 4\n");
	EXPECT_TRUE(c.reverse_dns);
	EXPECT_EQ(c.reverse_dns_threads, 4u);
	EXPECT_FALSE(parse_ok("[agent]\nreverse_dns = false\n").reverse_dns);
	parse_err("[agent]\nreverse_dns = maybe\n");
	parse_err("[agent]\nreverse_dns_threads = 0\n");
}

TEST(Config, PskKeyrings) {
	Config c = parse_ok("[authenticate]\nkeyrings = a\npsk_keyrings = b;c\n");
	EXPECT_EQ(c.keyrings, std::vector<std::string>{"a"});
	EXPECT_EQ(c.psk_keyrings, (std::vector<std::string>{"b", "c"}));
}

TEST(Config, KeyringOwnersByNameOrUid) {
	// "root" is uid 0 on every system; a name is resolved when read.
	Config c = parse_ok("[authenticate]\nkeyring_owners = 1234; root ;\n");
	EXPECT_EQ(c.keyring_owners, (std::vector<uid_t>{1234, 0}));
	EXPECT_TRUE(parse_ok("").keyring_owners.empty());
	std::string e = parse_err("[authenticate]\nkeyring_owners = tlsupd-no-such-user\n");
	EXPECT_NE(e.find("[authenticate] keyring_owners: 'tlsupd-no-such-user' is not a user"),
	          std::string::npos)
	        << e;
	parse_err("[authenticate]\nkeyring_owners = 4294967295\n");
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
	EXPECT_EQ(c.server.pq_certificate, "/etc/pki/mldsa.pem");
	EXPECT_TRUE(c.server.truststore.empty());
	// Known to tlshd, not acted on: accepted, and reported.
	EXPECT_FALSE(has(c.ignored, "authenticate.server.x509.pq.certificate")); // used
	EXPECT_TRUE(has(c.ignored, "debug.tls"));
	EXPECT_TRUE(c.notices.empty());
	EXPECT_EQ(c.where("authenticate.client", "x509.crl"),
	          "t.conf: [authenticate.client] x509.crl");
}

TEST(Config, FirstTlshdFormatIsAccepted) {
	Config c = parse_ok("[main]\ndebug=0\ntlsdebug=0\nnl_debug=0\nkeyrings=a;b\n");
	EXPECT_EQ(c.keyrings, (std::vector<std::string>{"a", "b"}));
	EXPECT_EQ(c.log_level, kLogInfo);
	EXPECT_EQ(parse_ok("[main]\ndebug=2\n").log_level, kLogDebug);
	// 0.8's singular key, and keyrings from both formats add up.
	EXPECT_EQ(parse_ok("[main]\nkeyring=k8\n[authenticate]\nkeyrings=k10\n").keyrings,
	          (std::vector<std::string>{"k8", "k10"}));
}

TEST(Config, AgentSection) {
	Config c = parse_ok("[agent]\n"
	                    "workers = 3\n"
	                    "max_inflight = 64\n"
	                    "default_timeout_ms = 5000\n"
	                    "reverse_dns_timeout_ms = 0\n"
	                    "log_level = notice\n"
	                    "control_socket = /tmp/x.sock\n"
	                    "test_hooks = true\n");
	EXPECT_EQ(c.workers, 3u);
	EXPECT_EQ(c.max_inflight, 64u);
	EXPECT_EQ(c.default_timeout_ms, 5000u);
	EXPECT_EQ(c.reverse_dns_timeout_ms, 0u);
	EXPECT_EQ(c.log_level, kLogNotice);
	EXPECT_EQ(c.control_socket, "/tmp/x.sock");
	EXPECT_TRUE(c.test_hooks);
	EXPECT_EQ(parse_ok("[agent]\nlog_level=7\n").log_level, 7);
	EXPECT_EQ(parse_ok("[agent]\nlog_level=warning\n").log_level, kLogWarning);
	// GLib keeps trailing white space in a value; numbers allow it, as
	// g_key_file_get_integer does.
	EXPECT_EQ(parse_ok("[agent]\nworkers = 5  \n").workers, 5u);
	EXPECT_FALSE(parse_ok("[agent]\ntest_hooks=0\n").test_hooks);
}

TEST(Config, AgentLogLevelWinsOverTlshdDebugInEitherOrder) {
	EXPECT_EQ(parse_ok("[agent]\nlog_level=err\n[debug]\nloglevel=5\n").log_level, kLogErr);
	EXPECT_EQ(parse_ok("[debug]\nloglevel=5\n[agent]\nlog_level=err\n").log_level, kLogErr);
}

TEST(Config, TlshdDebugNumbersReadAsTlshdReadsThem) {
	// g_key_file_get_integer(..., NULL) in tlshd: not a number is 0.
	Config c = parse_ok("[debug]\nloglevel=verbose\n");
	EXPECT_EQ(c.log_level, kLogInfo);
	EXPECT_NE(notice_with(c, "[debug] loglevel: not a number; read as 0"), "");
	EXPECT_EQ(parse_ok("[debug]\nloglevel= 3 \n").log_level, kLogDebug);
}

TEST(Config, ListsAreGLibLists) {
	// ';' separates, items keep their spaces (GLib does not trim them, so
	// tlshd looks up " .b "), "\;" is a ';' inside an item, and a trailing
	// ';' ends the list.
	EXPECT_EQ(parse_ok("[authenticate]\nkeyrings = .a; .b ;.c\n").keyrings,
	          (std::vector<std::string>{".a", " .b ", ".c"}));
	EXPECT_EQ(parse_ok("[authenticate]\nkeyrings=a\\;b;c;\n").keyrings,
	          (std::vector<std::string>{"a;b", "c"}));
	// ',' is not a separator.
	EXPECT_EQ(parse_ok("[authenticate]\nkeyrings=a,b\n").keyrings,
	          (std::vector<std::string>{"a,b"}));
	// The consumer keyrings are always linked; tlshd skips them in the list.
	EXPECT_EQ(parse_ok("[authenticate]\nkeyrings=.nvme;x;.nfs;;.nfsd\n").keyrings,
	          (std::vector<std::string>{"x"}));
}

TEST(Config, LastDuplicateWinsAndSectionsMerge) {
	Config c = parse_ok("[agent]\nworkers=1\nworkers=2\n[debug]\nloglevel=0\n"
	                    "[agent]\nmax_inflight=9\nworkers=3\n");
	EXPECT_EQ(c.workers, 3u);
	EXPECT_EQ(c.max_inflight, 9u);
	// A bad value that a later line replaces is not looked at.
	EXPECT_EQ(parse_ok("[agent]\nworkers=many\nworkers=4\n").workers, 4u);
	// A repeated list key is read once, not appended twice.
	EXPECT_EQ(parse_ok("[authenticate]\nkeyrings=a\nkeyrings=b\n").keyrings,
	          (std::vector<std::string>{"b"}));
}

TEST(Config, UnknownKeysAndSectionsAreNoticesNotErrors) {
	Config c = parse_ok("[agent]\nbogus=1\nworkers=2\n[nope]\nx=1\n"
	                    "[authenticate.client]\nx509.certificate[de]=/a\n");
	EXPECT_EQ(c.workers, 2u);
	EXPECT_EQ(notice_with(c, "bogus"), "t.conf: [agent] bogus: unknown key; ignored");
	EXPECT_EQ(notice_with(c, "nope"), "t.conf: section [nope] is not used by tlsupd; ignored");
	// GLib drops a localized key ("key[de]") while loading, without
	// G_KEY_FILE_KEEP_TRANSLATIONS (tlshd does not set it either).
	EXPECT_EQ(c.notices.size(), 2u);
	EXPECT_TRUE(c.client.certificate.empty());
}

TEST(Config, WhitespaceCrlfAndEscapes) {
	Config c = parse_ok("  [agent]  \r\n\t workers \t=\t 2\r\n"
	                    "[authenticate.client]\nx509.truststore=/etc/a\\sb\\\\c\n");
	EXPECT_EQ(c.workers, 2u);
	EXPECT_EQ(c.client.truststore, "/etc/a b\\c");
	// Trailing white space is part of a string value, as tlshd opens it.
	EXPECT_EQ(parse_ok("[authenticate.client]\nx509.crl=/etc/crl.pem \n").client.crl,
	          "/etc/crl.pem ");
	// An escape GLib does not know stays as written, a trailing '\' goes:
	// what g_key_file_get_string() returns to tlshd.
	EXPECT_EQ(parse_ok("[authenticate.client]\nx509.truststore=C:\\ca.pem\n").client.truststore,
	          "C:\\ca.pem");
	EXPECT_EQ(parse_ok("[authenticate.client]\nx509.crl=/crl\\\n").client.crl, "/crl");
	// tlshd treats a value that is not UTF-8 as absent (no trust store,
	// silently); tlsupd refuses it.
	EXPECT_EQ(parse_err("[authenticate.server]\nx509.certificate=/etc/\xff.pem\n"),
	          "t.conf: [authenticate.server] x509.certificate: the value is not valid UTF-8");
}

TEST(Config, OnlyHashStartsAComment) {
	// GKeyFile (and so tlshd) refuses a line starting with ';'.
	EXPECT_NE(parse_err("; comment\n[agent]\n").find("t.conf: Key file contains line"),
	          std::string::npos);
	// No inline comments: everything after '=' is the value.
	EXPECT_EQ(parse_ok("[authenticate.client]\nx509.crl=/c.pem # old\n").client.crl,
	          "/c.pem # old");
	EXPECT_EQ(parse_ok("# a\n  # b\n[agent]\n#workers=9\n").workers, 0u);
}

TEST(Config, ParseErrorsNameTheFile) {
	EXPECT_EQ(parse_err("workers=1\n[agent]\n"),
	          "t.conf: Key file does not start with a group");
	EXPECT_EQ(parse_err("[agent]\nworkers 2\n"),
	          "t.conf: Key file contains line “workers 2” which is not a key-value pair, "
	          "group, or comment");
	EXPECT_NE(parse_err("[agent\nworkers=2\n").find("“[agent”"), std::string::npos);
	EXPECT_NE(parse_err("[]\n").find("t.conf: "), std::string::npos);
	// A byte-order mark is not skipped by GLib.
	EXPECT_NE(parse_err("\xEF\xBB\xBF[agent]\n").find("t.conf: "), std::string::npos);
}

TEST(Config, NulEndsALineAsInGLib) {
	// GLib reads each line up to a NUL; what follows on that line is lost.
	std::string text("[agent]\nworkers=2\0junk\nmax_inflight=7\n", 37);
	Config c = parse_ok(text);
	EXPECT_EQ(c.workers, 2u);
	EXPECT_EQ(c.max_inflight, 7u);
}

TEST(Config, AgentValueErrorsNameFileSectionAndKey) {
	EXPECT_EQ(parse_err("[agent]\n\nworkers = many\n"),
	          "t.conf: [agent] workers: 'many' is not a number");
	EXPECT_EQ(parse_err("[agent]\nmax_inflight=0\n"),
	          "t.conf: [agent] max_inflight: 0 is out of range [1, 1000000]");
	EXPECT_EQ(parse_err("[agent]\nworkers=257\n"),
	          "t.conf: [agent] workers: 257 is out of range [0, 256]");
	EXPECT_EQ(parse_err("[agent]\nworkers=-1\n"),
	          "t.conf: [agent] workers: '-1' is not a number");
	EXPECT_EQ(parse_err("[agent]\ncontrol_socket=run/x\n"),
	          "t.conf: [agent] control_socket: 'run/x' is not an absolute path");
	EXPECT_EQ(parse_err("[agent]\ncontrol_socket=/" + std::string(120, 's') + "\n"),
	          "t.conf: [agent] control_socket: path longer than a unix socket allows");
	EXPECT_NE(parse_err("[agent]\nlog_level=loud\n").find("t.conf: [agent] log_level: 'loud'"),
	          std::string::npos);
	EXPECT_EQ(parse_err("[agent]\ntest_hooks=maybe\n"),
	          "t.conf: [agent] test_hooks: not a boolean (true, false, 1 or 0)");
}

TEST(Config, X509Values) {
	// An empty value is what tlshd gets from opening "": nothing.
	Config e = parse_ok("[authenticate.client]\nx509.truststore=\n");
	EXPECT_TRUE(e.client.truststore.empty());
	EXPECT_NE(notice_with(e, "[authenticate.client] x509.truststore: empty"), "");
	// Relative paths and URLs are kept by the parser (load_config_file
	// resolves paths).
	Config c = parse_ok("[authenticate.server]\nx509.certificate=certs/s.pem\n"
	                    "x509.private_key=pkcs11:token=t;object=k\n"
	                    "x509.pq.private_key=tpmkey:file=/k.blob\n");
	EXPECT_EQ(c.server.certificate, "certs/s.pem");
	EXPECT_EQ(c.server.private_key, "pkcs11:token=t;object=k");
	EXPECT_EQ(c.server.pq_private_key, "tpmkey:file=/k.blob");
	EXPECT_FALSE(has(c.ignored, "authenticate.server.x509.pq.private_key")); // used
	// ktls-utils' client policy (after 1.4): used, never ignored.
	Config k = parse_ok("[authenticate.server]\nx509.client_auth=1\n"
	                    "x509.client_allowed_sans= A.example. ;b.example;192.0.2.1\n");
	EXPECT_TRUE(k.ignored.empty());
	EXPECT_TRUE(k.notices.empty());
	EXPECT_TRUE(k.client_policy.require_certificate);
	EXPECT_EQ(k.client_policy.allowed_sans,
	          (std::vector<std::string>{"a.example", "b.example", "192.0.2.1"}));
	EXPECT_FALSE(parse_ok("[authenticate.server]\nx509.client_auth=0\n")
	                     .client_policy.require_certificate);
}

TEST(Config, DaneIsRefusedUnlessOff) {
	for (const char *mode : {"require", "opportunistic"})
		EXPECT_EQ(parse_err(std::string("[authenticate]\ndane=") + mode + "\n")
		                  .rfind("t.conf: [authenticate] dane: tlsupd does not implement "
		                         "DANE",
		                         0),
		          0u)
		        << mode;
	Config c = parse_ok("[authenticate]\ndane=off\ndane.resolver=127.0.0.1\n");
	EXPECT_TRUE(has(c.ignored, "authenticate.dane"));
	EXPECT_TRUE(has(c.ignored, "authenticate.dane.resolver"));
}

TEST(Config, GnutlsUrlTestIsTlshds) {
	EXPECT_TRUE(is_gnutls_url("pkcs11:token=a"));
	EXPECT_TRUE(is_gnutls_url("tpmkey:uuid=1"));
	EXPECT_TRUE(is_gnutls_url("a+b-c.d:x"));
	EXPECT_FALSE(is_gnutls_url("/etc/key.pem"));
	EXPECT_FALSE(is_gnutls_url("key.pem"));
	EXPECT_FALSE(is_gnutls_url("1pkcs11:x"));
	EXPECT_FALSE(is_gnutls_url("dir/pkcs11:x"));
	EXPECT_FALSE(is_gnutls_url(""));
}

std::string write_file(const std::string &path, const std::string &text) {
	std::ofstream(path) << text;
	return path;
}

std::string temp_dir() {
	char tmpl[] = "/tmp/tlsupd-conf.XXXXXX";
	const char *d = mkdtemp(tmpl);
	EXPECT_NE(d, nullptr);
	return d ? d : "/tmp";
}

TEST(ConfigFile, LoadsAndNamesTheFile) {
	std::string dir = temp_dir();
	std::string p = write_file(dir + "/ok.conf", "[agent]\nworkers=4\n");
	auto c = load_config_file(p);
	ASSERT_TRUE(c.ok()) << c.error().reason;
	EXPECT_EQ(c->workers, 4u);
	EXPECT_EQ(c->source, p);
	std::string bad = write_file(dir + "/bad.conf", "[agent]\nworkers=four\n");
	auto e = load_config_file(bad);
	ASSERT_FALSE(e.ok());
	EXPECT_EQ(e.error().reason, bad + ": [agent] workers: 'four' is not a number");
	std::filesystem::remove_all(dir);
}

TEST(ConfigFile, RelativePathsAreRelativeToTheWorkingDirectory) {
	// tlshd open(2)s the configured string, so a relative path is relative
	// to the daemon's working directory (/ under systemd), not to the file.
	std::string dir = temp_dir();
	std::filesystem::create_directory(dir + "/etc");
	std::filesystem::create_directory(dir + "/run");
	std::string p =
	        write_file(dir + "/etc/t.conf", "[authenticate.client]\nx509.truststore=ca.pem\n"
	                                        "x509.certificate=../c.pem\n"
	                                        "x509.private_key=pkcs11:object=k\n"
	                                        "[authenticate.server]\nx509.private_key=k/s.key\n"
	                                        "x509.crl=/abs/crl.pem\n");
	char old[PATH_MAX];
	ASSERT_NE(getcwd(old, sizeof(old)), nullptr);
	ASSERT_EQ(chdir((dir + "/run").c_str()), 0);
	auto c = load_config_file(p);
	ASSERT_EQ(chdir(old), 0);
	ASSERT_TRUE(c.ok()) << c.error().reason;
	EXPECT_EQ(c->client.truststore, dir + "/run/ca.pem");
	EXPECT_EQ(c->client.certificate, dir + "/run/../c.pem");
	EXPECT_EQ(c->client.private_key, "pkcs11:object=k");
	EXPECT_EQ(c->server.private_key, dir + "/run/k/s.key");
	EXPECT_EQ(c->server.crl, "/abs/crl.pem");
	std::filesystem::remove_all(dir);
}

TEST(ConfigFile, MissingFileOrDirectoryFails) {
	auto m = load_config("/nonexistent/tlsupd.conf");
	ASSERT_FALSE(m.ok());
	EXPECT_NE(m.error().reason.find("/nonexistent/tlsupd.conf"), std::string::npos);
	auto d = load_config_file("/tmp");
	ASSERT_FALSE(d.ok());
	EXPECT_NE(d.error().reason.find("not a regular file"), std::string::npos);
}

class ConfigSearchOrder : public ::testing::Test {
protected:
	void SetUp() override {
		dir_ = temp_dir();
		search_.own = dir_ + "/tlsupd.conf";
		search_.tlshd_legacy = dir_ + "/tlshd.conf";
		search_.tlshd = dir_ + "/tlshd-config";
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }
	Result<Config> load() { return load_config("", search_); }
	std::string dir_;
	ConfigSearch search_;
};

TEST_F(ConfigSearchOrder, NoFileMeansDefaults) {
	auto c = load();
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c->source, "");
}

TEST_F(ConfigSearchOrder, TlshdConfig) {
	write_file(search_.tlshd, "[agent]\nworkers=3\n");
	auto c = load();
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c->source, search_.tlshd);
}

TEST_F(ConfigSearchOrder, LegacyTlshdConfBeforeTlshdConfigAsTlshdDoes) {
	write_file(search_.tlshd, "[agent]\nworkers=3\n");
	write_file(search_.tlshd_legacy, "[agent]\nworkers=2\n");
	auto c = load();
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c->source, search_.tlshd_legacy);
	EXPECT_EQ(c->workers, 2u);
	EXPECT_NE(notice_with(c.value(), "deprecated location"), "");
}

TEST_F(ConfigSearchOrder, OwnFileFirst) {
	write_file(search_.tlshd, "[agent]\nworkers=3\n");
	write_file(search_.tlshd_legacy, "[agent]\nworkers=2\n");
	write_file(search_.own, "[agent]\nworkers=1\n");
	auto c = load();
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c->workers, 1u);
	// Explicit -c beats everything.
	std::string x = write_file(dir_ + "/x.conf", "[agent]\nworkers=9\n");
	EXPECT_EQ(load_config(x, search_)->workers, 9u);
}

TEST_F(ConfigSearchOrder, BrokenOwnFileIsAnErrorNotAFallThrough) {
	write_file(search_.tlshd, "[agent]\nworkers=3\n");
	write_file(search_.own, "[agent]\nworkers=x\n");
	EXPECT_FALSE(load().ok());
}

TEST_F(ConfigSearchOrder, BrokenLegacyFileIsSkippedAsTlshdSkipsIt) {
	write_file(search_.tlshd_legacy, "; not GKeyFile\n");
	auto alone = load();
	ASSERT_FALSE(alone.ok());
	EXPECT_EQ(alone.error().reason.rfind(search_.tlshd_legacy + ": Key file contains", 0), 0u);
	write_file(search_.tlshd, "[agent]\nworkers=3\n");
	auto c = load();
	ASSERT_TRUE(c.ok()) << c.error().reason;
	EXPECT_EQ(c->source, search_.tlshd);
	EXPECT_NE(notice_with(c.value(), "skipped " + search_.tlshd_legacy), "");
}

// Every tlshd.conf format ktls-utils has shipped (tlshd-configs/README.md).
std::vector<std::string> tlshd_config_files() {
	std::vector<std::string> out;
	for (const auto &e : std::filesystem::directory_iterator(TLSUP_TLSHD_CONFIGS))
		if (e.path().extension() == ".conf")
			out.push_back(e.path().string());
	std::sort(out.begin(), out.end());
	return out;
}

TEST(TlshdConfigs, EveryShippedFormatLoadsAndEveryKeyIsKnown) {
	auto files = tlshd_config_files();
	EXPECT_GE(files.size(), 9u);
	for (const auto &f : files) {
		auto c = load_config_file(f);
		ASSERT_TRUE(c.ok()) << f << ": " << c.error().reason;
		EXPECT_TRUE(c->notices.empty())
		        << f << ": " << (c->notices.empty() ? "" : c->notices[0]);
		EXPECT_TRUE(c->keyrings.empty()) << f;
	}
}

Config load_variant(const std::string &name) {
	auto c = load_config_file(std::string(TLSUP_TLSHD_CONFIGS) + "/" + name);
	EXPECT_TRUE(c.ok()) << name << ": " << (c ? "" : c.error().reason);
	return c ? std::move(c).value() : Config{};
}

TEST(TlshdConfigs, FormatsReportWhatTlsupdDoesNotActOn) {
	Config v08 = load_variant("0.8-main-libdebug.conf");
	EXPECT_TRUE(has(v08.ignored, "main.libdebug"));
	EXPECT_TRUE(has(v08.ignored, "main.nl_debug"));
	EXPECT_EQ(v08.log_level, kLogInfo);
	Config v10 = load_variant("0.10-1.1-debug-authenticate.conf");
	EXPECT_EQ(v10.log_level, kLogInfo);
	EXPECT_EQ(v10.ignored, (std::vector<std::string>{"debug.tls", "debug.nl"}));
	EXPECT_TRUE(v10.client.truststore.empty());
}

TEST(TlshdConfigs, FilledInFormatsGiveTheirValues) {
	Config nfs = load_variant("main-dane-nfs-mtls.conf");
	EXPECT_EQ(nfs.log_level, kLogDebug); // loglevel=4
	for (const X509Paths *r : {&nfs.client, &nfs.server}) {
		// "x509.truststore= /nfs...": GLib drops the space after '='.
		EXPECT_EQ(r->truststore, "/nfs_certificates/nfsomtls.crt");
		EXPECT_EQ(r->certificate, "/nfs_certificates/nfsomtls.crt");
		EXPECT_EQ(r->private_key, "/nfs_certificates/nfsomtls.key");
		EXPECT_TRUE(r->crl.empty());
	}
	Config drbd = load_variant("0.9-main-filled.conf");
	EXPECT_EQ(drbd.client.certificate, "/etc/node-tls/node.crt");
	EXPECT_EQ(drbd.server.private_key, "/etc/node-tls/node.key");
	Config quic = load_variant("1.0-quic-filled.conf");
	EXPECT_EQ(quic.client.certificate, "/root/quic/tests/keys/client-cert.pem");
	EXPECT_EQ(quic.server.private_key, "/root/quic/tests/keys/server-key.pem");
	EXPECT_TRUE(quic.server.truststore.empty());
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
	EXPECT_EQ(creds.value()->client.identity->count(), 1u);
	EXPECT_FALSE(creds.value()->server.identity);
}

TEST(Credentials, ErrorsNameTheKeysLine) {
	const Pki &pki = Pki::get();
	EXPECT_EQ(creds_err("[authenticate.client]\n\nx509.truststore=/nonexistent/ca.pem\n")
	                  .rfind("c.conf: [authenticate.client] x509.truststore: cannot open "
	                         "/nonexistent/ca.pem",
	                         0),
	          0u);
	EXPECT_NE(creds_err("[authenticate.server]\nx509.certificate=" + pki.path("server.pem") +
	                    "\n")
	                  .find("c.conf: [authenticate.server] x509.certificate: x509.private_key "
	                        "is not set"),
	          std::string::npos);
	EXPECT_NE(creds_err("[authenticate.server]\nx509.certificate=" + pki.path("server.pem") +
	                    "\nx509.private_key=" + pki.path("client.key") + "\n")
	                  .find("c.conf: [authenticate.server] x509.private_key: the private key "
	                        "does not belong"),
	          std::string::npos);
	EXPECT_NE(
	        creds_err("[authenticate.client]\nx509.truststore=" + pki.path("client.key") + "\n")
	                .find("no CA certificate"),
	        std::string::npos);
	// A CRL no trusted CA signed would silently check nothing.
	EXPECT_NE(creds_err("[authenticate.client]\nx509.truststore=" + pki.path("rogue-ca.pem") +
	                    "\nx509.crl=" + pki.path("crl.pem") + "\n")
	                  .find("c.conf: [authenticate.client] x509.crl: no CRL signed by a "
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
