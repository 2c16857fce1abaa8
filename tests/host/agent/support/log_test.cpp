// SPDX-License-Identifier: GPL-2.0
//
// The logger: every line escaped (a peer-chosen "\n<0>..." stays one line
// of the priority it was logged at), the stream format on stderr, journald
// detection, and the fields of a native journal entry.
#include <cstdlib>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

TEST(LogEscape, ControlBytesCannotStartALine) {
	EXPECT_EQ(escape_log_text("a\n<0>forged"), "a\\x0a<0>forged");
	EXPECT_EQ(escape_log_text("\r\t\x1b[31m\x7f"), "\\x0d\\x09\\x1b[31m\\x7f");
	EXPECT_EQ(escape_log_text(std::string("a\0b", 3)), "a\\x00b");
}

TEST(LogEscape, BackslashIsDoubledSoEscapesAreUnambiguous) {
	// A peer that sends the text "\x0a" is not confused with a newline.
	EXPECT_EQ(escape_log_text("\\x0a"), "\\\\x0a");
}

TEST(LogEscape, Utf8StaysUnlessItMisleads) {
	EXPECT_EQ(escape_log_text("名前.example é"), "名前.example é");
	// C1 NEL, LINE SEPARATOR, RIGHT-TO-LEFT OVERRIDE, FIRST STRONG ISOLATE.
	EXPECT_EQ(escape_log_text("\xc2\x85"), "\\xc2\\x85");
	EXPECT_EQ(escape_log_text("\xe2\x80\xa8"), "\\xe2\\x80\\xa8");
	EXPECT_EQ(escape_log_text("a\xe2\x80\xae"
	                          "b"),
	          "a\\xe2\\x80\\xaeb");
	EXPECT_EQ(escape_log_text("\xe2\x81\xa8"), "\\xe2\\x81\\xa8");
	// Not UTF-8: a lone continuation, an overlong '/', a surrogate, past
	// U+10FFFF, a sequence cut short.
	EXPECT_EQ(escape_log_text("\x80"), "\\x80");
	EXPECT_EQ(escape_log_text("\xc0\xaf"), "\\xc0\\xaf");
	EXPECT_EQ(escape_log_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");
	EXPECT_EQ(escape_log_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
	EXPECT_EQ(escape_log_text("\xe5\x90"), "\\xe5\\x90");
}

TEST(LogRedact, AKeyUrlLosesItsQuery) {
	EXPECT_EQ(redact_key_url("pkcs11:token=t;object=k;type=private?pin-value=1234"),
	          "pkcs11:token=t;object=k;type=private?<redacted>");
	EXPECT_EQ(redact_key_url("pkcs11:token=t;object=k"), "pkcs11:token=t;object=k");
	// Where it does not belong, the PIN goes all the same (and what
	// follows it: a PIN may hold ';').
	EXPECT_EQ(redact_key_url("pkcs11:token=t;pin-value=1234;object=k"),
	          "pkcs11:token=t;pin-value=<redacted>");
}

TEST(LogRedact, EverySecretAKeyUrlCarriesLeavesAnyText) {
	EXPECT_EQ(redact_secrets("no usable private key at pkcs11:object=k?pin-value=1234 (gone)"),
	          "no usable private key at pkcs11:object=k?<redacted> (gone)");
	EXPECT_EQ(redact_secrets("cannot open /etc/PKCS11:object=k?module-name=x&pin-value=9: "
	                         "No such file"),
	          "cannot open /etc/PKCS11:object=k?<redacted> No such file");
	// A query ends at whitespace only: RFC 7512 lets its values hold
	// ) , ] ' and the like, so a quote or bracket after it goes too.
	EXPECT_EQ(redact_secrets("'tpmkey:uuid=1?srk=2', \"pkcs11:a?b\""),
	          "'tpmkey:uuid=1?<redacted> \"pkcs11:a?<redacted>");
	EXPECT_EQ(redact_secrets("x PIN-Value=secret&y=1"), "x PIN-Value=<redacted>");
	for (const char *pin : {"a)b", "a,b", "a]b", "a'b", "a;b", "a&b", "a\"b", "a>b"}) {
		EXPECT_EQ(redact_secrets(std::string("pkcs11:o=k?pin-value=") + pin + " x"),
		          "pkcs11:o=k?<redacted> x")
		        << pin;
		EXPECT_EQ(redact_secrets(std::string("pin-value=") + pin + "\tx"),
		          "pin-value=<redacted>\tx")
		        << pin;
	}
	// Other text, question marks included, is left alone.
	EXPECT_EQ(redact_secrets("what? pkcs11 support: on"), "what? pkcs11 support: on");
	EXPECT_EQ(redact_secrets("pkcs11:token=t ok? yes"), "pkcs11:token=t ok? yes");
	// Twice is once (a reason is redacted, then its log line).
	for (const char *t :
	     {"at pkcs11:object=k?pin-value=1 (x)", "a pin-value=2;b", "pkcs11:?"}) {
		std::string once = redact_secrets(t);
		EXPECT_EQ(redact_secrets(once), once) << t;
	}
}

TEST(Log, EveryLineIsRedactedInTheLogger) {
	CaptureLog log;
	LOG_ERR(log.log(), "key %s", "pkcs11:object=k?pin-value=1234");
	ASSERT_EQ(log.lines().size(), 1u);
	EXPECT_EQ(log.lines()[0], "<3>key pkcs11:object=k?<redacted>");
}

TEST(Log, EveryLineIsEscapedInTheLogger) {
	CaptureLog cap;
	std::string identity = "client\n<0>tlsupd: forged emergency";
	LOG_ERR(cap.log(), "fd 7: unknown PSK identity '%s'", identity.c_str());
	auto lines = cap.lines();
	ASSERT_EQ(lines.size(), 1u);
	EXPECT_EQ(lines[0],
	          "<3>fd 7: unknown PSK identity 'client\\x0a<0>tlsupd: forged emergency'");
}

TEST(Log, PriorityIsClampedAndLongMessagesMarked) {
	std::vector<int> prios;
	std::vector<std::string> msgs;
	Log log(Log::LineSink([&](int p, std::string_view m) {
		prios.push_back(p);
		msgs.emplace_back(m);
	}));
	log.set_level(99);
	log.print(42, "x");
	log.print(-3, "y");
	std::string big(Log::kMaxMessage + 10, 'z');
	log.print(kLogErr, "%s", big.c_str());
	EXPECT_EQ(prios, (std::vector<int>{7, 0, 3}));
	EXPECT_EQ(msgs[2], std::string(Log::kMaxMessage, 'z') + " [truncated]");
}

// Runs F with stderr sent to a pipe; returns what it wrote.
template <class F>
std::string capture_stderr(F f) {
	int p[2];
	EXPECT_EQ(pipe(p), 0);
	int saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	f();
	dup2(saved, STDERR_FILENO);
	close(saved);
	std::string out;
	char buf[4096];
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	ssize_t n;
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		out.append(buf, static_cast<size_t>(n));
	close(p[0]);
	return out;
}

TEST(Log, StreamFormatOnStderrOneLinePerMessage) {
	unsetenv("JOURNAL_STREAM");
	std::string out = capture_stderr([] {
		Log log;
		EXPECT_FALSE(log.native_journal());
		LOG_WARN(log, "sni '%s'", "a\nb");
		LOG_DEBUG(log, "not at info");
	});
	EXPECT_EQ(out, "<4>sni 'a\\x0ab'\n");
}

TEST(Log, JournalStreamMustNameStderr) {
	struct stat st;
	ASSERT_EQ(fstat(STDERR_FILENO, &st), 0);
	std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
	setenv("JOURNAL_STREAM", mine.c_str(), 1);
	EXPECT_TRUE(stderr_is_journal());
	// Inherited from a parent whose stderr was the journal, ours is not.
	std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
	setenv("JOURNAL_STREAM", other.c_str(), 1);
	EXPECT_FALSE(stderr_is_journal());
	for (const char *bad : {"", "12", "1:2x", "a:b", ":"}) {
		setenv("JOURNAL_STREAM", bad, 1);
		EXPECT_FALSE(stderr_is_journal()) << bad;
	}
	unsetenv("JOURNAL_STREAM");
	EXPECT_FALSE(stderr_is_journal());
}

TEST(Log, JournalFieldsOfAHandshake) {
	LogFields f;
	f.request = "1.42";
	f.status = EACCES;
	f.peer = "192.0.2.7:2049";
	f.auth = "x509";
	f.latency_us = 1234;
	LogRecord r{kLogErr, "fd 9: handshake failed: EACCES: bad certificate", &f};
	EXPECT_EQ(journal_fields(r),
	          (std::vector<std::string>{
	                  "MESSAGE=fd 9: handshake failed: EACCES: bad certificate",
	                  "PRIORITY=3",
	                  "SYSLOG_IDENTIFIER=tlsupd",
	                  "TLSUP_REQUEST=1.42",
	                  "TLSUP_STATUS=EACCES",
	                  "TLSUP_PEER=192.0.2.7:2049",
	                  "TLSUP_AUTH=x509",
	                  "TLSUP_LATENCY_US=1234",
	          }));
	LogFields ok;
	ok.status = 0;
	ok.peer = "[2001:db8::1]:4420\n";
	LogRecord r2{kLogInfo, "done", &ok};
	EXPECT_EQ(
	        journal_fields(r2),
	        (std::vector<std::string>{"MESSAGE=done", "PRIORITY=6", "SYSLOG_IDENTIFIER=tlsupd",
	                                  "TLSUP_STATUS=0", "TLSUP_PEER=[2001:db8::1]:4420\\x0a"}));
	LogFields other;
	other.status = EKEYREJECTED;
	LogRecord r3{kLogErr, "m", &other};
	EXPECT_EQ(journal_fields(r3).back(), "TLSUP_STATUS=EKEYREJECTED");
	LogRecord plain{kLogNotice, "reloading", nullptr};
	EXPECT_EQ(journal_fields(plain).size(), 3u);
}

TEST(Log, EventReachesTheSinkWithItsFields) {
	std::string peer;
	Log log(Log::Sink([&](const LogRecord &r) {
		ASSERT_NE(r.fields, nullptr);
		peer = r.fields->peer;
	}));
	LogFields f;
	f.peer = "198.51.100.1:443";
	LOG_EVENT(log, kLogInfo, f, "done");
	EXPECT_EQ(peer, "198.51.100.1:443");
}

} // namespace
} // namespace tlsup::test
