// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: the PKCS#11 PIN. tlsupd.conf(5) documents a token key
// as "pkcs11:...?pin-value=PIN". Whoever reads the journal (the adm and
// systemd-journal groups), stderr or a `tlsupctl reload` reply must not
// learn the PIN from an error that names the key: the query part of a key
// URL never reaches a log line or a reply, and a configuration file that
// holds a PIN and that others may read is named in a warning.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <thread>

#include "agent.hpp"
#include "control.hpp"
#include "fake_channel.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

class AttackPin : public ::testing::Test {
protected:
	void SetUp() override {
		if (!softhsm_token().empty())
			GTEST_SKIP() << softhsm_token();
		char d[] = "/tmp/tlsup-attack-pin.XXXXXX";
		ASSERT_TRUE(mkdtemp(d));
		dir_ = d;
		conf_ = dir_ + "/tlsupd.conf";
		sock_ = dir_ + "/control";
	}
	void TearDown() override {
		if (!dir_.empty())
			std::filesystem::remove_all(dir_);
	}

	void write_conf(const std::string &certificate, const std::string &key,
	                mode_t mode = 0600) {
		std::ofstream(conf_)
		        << "[agent]\nworkers = 1\ncontrol_socket = " << sock_
		        << "\n[authenticate.server]\nx509.truststore = "
		        << Pki::get().path("ca.pem") << "\nx509.certificate = " << certificate
		        << "\nx509.private_key = " << key << "\n";
		ASSERT_EQ(chmod(conf_.c_str(), mode), 0);
	}

	AgentOptions options() {
		AgentOptions o;
		o.config_path = conf_;
		o.consumer_keyrings = {};
		o.credential_settle = 20ms;
		o.open_channel = [this](bool) -> Result<std::unique_ptr<HandshakeChannel>> {
			return std::unique_ptr<HandshakeChannel>(
			        std::make_unique<FakeChannel>(kernel_));
		};
		return o;
	}

	// Every line logged, and TEXT, free of the PIN.
	void expect_no_pin(const std::string &text) {
		EXPECT_EQ(text.find(kTokenPin), std::string::npos) << text;
		for (const auto &l : log_.lines())
			EXPECT_EQ(l.find(kTokenPin), std::string::npos) << l;
	}

	static std::string url(const std::string &object) {
		return "pkcs11:token=tlsupd-test;object=" + object +
		       ";type=private?pin-value=" + kTokenPin;
	}

	std::string dir_, conf_, sock_;
	FakeKernel kernel_;
	CaptureLog log_;
};

TEST_F(AttackPin, StartUpErrorsRedactTheKeyUrlsQuery) {
	write_conf(Pki::get().path("server.pem"), url("nothing"));
	auto agent = Agent::create(options(), log_.log());
	ASSERT_FALSE(agent.ok());
	const std::string &why = agent.error().reason;
	expect_no_pin(why);
	// The key is still named, without its query.
	EXPECT_NE(why.find("pkcs11:token=tlsupd-test;object=nothing;type=private?"),
	          std::string::npos)
	        << why;
}

TEST_F(AttackPin, AnotherKeyHoldingAUrlIsRedactedToo) {
	// A URL where a file is expected (x509.certificate) ends in an error
	// about a file of that name; the PIN must not go with it.
	write_conf(url("srv"), kTokenKeyUrl);
	auto agent = Agent::create(options(), log_.log());
	ASSERT_FALSE(agent.ok());
	expect_no_pin(agent.error().reason);
}

TEST_F(AttackPin, TheReloadReplyAndLogRedactTheKeyUrlsQuery) {
	write_conf(Pki::get().path("server.pem"), kTokenKeyUrl);
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	ASSERT_TRUE(kernel_.wait_eagains(1));
	write_conf(Pki::get().path("server.pem"), url("nothing"));
	auto reply = control_request(sock_, "reload");
	ASSERT_TRUE(reply.ok()) << reply.error().reason;
	EXPECT_EQ(reply->rfind("error ", 0), 0u) << *reply;
	expect_no_pin(*reply);
	// Whatever else quotes a value: the reply is redacted as a whole.
	std::ofstream(conf_) << "[agent]\nworkers = " << url("srv") << "\n";
	reply = control_request(sock_, "reload");
	ASSERT_TRUE(reply.ok()) << reply.error().reason;
	EXPECT_NE(reply->find("is not a number"), std::string::npos) << *reply;
	expect_no_pin(*reply);
	agent.value()->stop();
	t.join();
}

TEST_F(AttackPin, ARenewalErrorRedactsTheKeyUrlsQuery) {
	// The certificate renewed beside a token key that has gone: the
	// re-read names the key in its error.
	ASSERT_TRUE(softhsm_write_key("server", "renew"));
	std::string certs = dir_ + "/certs";
	std::filesystem::create_directories(certs);
	std::filesystem::copy_file(Pki::get().path("server.pem"), certs + "/server.pem");
	write_conf(certs + "/server.pem", url("renew"));
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	ASSERT_TRUE(kernel_.wait_eagains(1));
	ASSERT_TRUE(softhsm_delete("renew"));
	std::filesystem::copy_file(Pki::get().path("server-noip.pem"), certs + "/new.pem");
	std::filesystem::rename(certs + "/new.pem", certs + "/server.pem");
	for (int i = 0; i < 300 && !log_.contains("keeping the previous ones"); i++)
		std::this_thread::sleep_for(10ms);
	EXPECT_TRUE(log_.contains("keeping the previous ones"))
	        << ::testing::PrintToString(log_.lines());
	expect_no_pin("");
	agent.value()->stop();
	t.join();
}

TEST_F(AttackPin, APinSourceFileKeepsThePinOutOfTheConfiguration) {
	// tlsupd.conf(5)'s advice: the PIN in a file only root may read.
	std::string pin = dir_ + "/pin";
	std::ofstream(pin) << kTokenPin;
	ASSERT_EQ(chmod(pin.c_str(), 0600), 0);
	write_conf(Pki::get().path("server.pem"),
	           "pkcs11:token=tlsupd-test;object=srv;type=private?pin-source=" + pin, 0644);
	auto agent = Agent::create(options(), log_.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	EXPECT_FALSE(log_.contains("holds a PIN"));
}

TEST_F(AttackPin, AConfigurationFileWithAPinOthersMayReadIsWarnedAbout) {
	write_conf(Pki::get().path("server.pem"), kTokenKeyUrl, 0644);
	{
		auto agent = Agent::create(options(), log_.log());
		ASSERT_TRUE(agent.ok()) << agent.error().reason;
	}
	EXPECT_TRUE(log_.contains("<4>" + conf_ +
	                          ": [authenticate.server] x509.private_key: holds a PIN "
	                          "(pin-value), and any user may read " +
	                          conf_ + " (mode 0644; chmod o-r)"))
	        << ::testing::PrintToString(log_.lines());
	expect_no_pin("");
	CaptureLog quiet;
	write_conf(Pki::get().path("server.pem"), kTokenKeyUrl, 0600);
	auto agent = Agent::create(options(), quiet.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	EXPECT_FALSE(quiet.contains("holds a PIN"));
}

// RFC 7512 lets a pin-value hold ')', ',', ']', '\'' unencoded
// (pk11-qres-avail), and p11-kit takes them as part of the PIN. A PIN with
// one must not be cut there by the redaction, the rest of it left in the
// line. No token needed: the errors quote the URL before any token is
// asked.
TEST(AttackPinText, APinWithAReservedCharacterIsRedactedWhole) {
	char d[] = "/tmp/tlsup-attack-pin.XXXXXX";
	ASSERT_TRUE(mkdtemp(d));
	std::string dir = d, conf = dir + "/tlsupd.conf";
	const std::string tail = "4711secret";
	for (const std::string &pin : {"x)" + tail, "x," + tail, "x]" + tail, "x'" + tail}) {
		SCOPED_TRACE(pin);
		const std::string url = "pkcs11:token=t;object=srv;type=cert?pin-value=" + pin;
		// A URL where a file is expected: the error names it.
		std::ofstream(conf)
		        << "[authenticate.server]\nx509.truststore = " << Pki::get().path("ca.pem")
		        << "\nx509.certificate = " << url
		        << "\nx509.private_key = " << Pki::get().path("server.key") << "\n";
		ASSERT_EQ(chmod(conf.c_str(), 0600), 0);
		CaptureLog log;
		AgentOptions o;
		o.config_path = conf;
		o.consumer_keyrings = {};
		FakeKernel kernel;
		o.open_channel = [&kernel](bool) -> Result<std::unique_ptr<HandshakeChannel>> {
			return std::unique_ptr<HandshakeChannel>(
			        std::make_unique<FakeChannel>(kernel));
		};
		auto agent = Agent::create(o, log.log());
		ASSERT_FALSE(agent.ok());
		// As main() logs it (redacted there as every line is).
		LOG_ERR(log.log(), "cannot start: %s", agent.error().reason.c_str());
		// Where a value is quoted: the line redacted as a whole.
		std::ofstream(conf) << "[agent]\nworkers = " << url << "\n";
		agent = Agent::create(o, log.log());
		ASSERT_FALSE(agent.ok());
		LOG_ERR(log.log(), "cannot start: %s", agent.error().reason.c_str());
		ASSERT_GE(log.lines().size(), 2u) << ::testing::PrintToString(log.lines());
		for (const auto &l : log.lines())
			EXPECT_EQ(l.find(tail), std::string::npos) << l;
	}
	std::filesystem::remove_all(dir);
}

} // namespace
} // namespace tlsup::test
