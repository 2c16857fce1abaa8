// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: configured files. Whoever owns the directory of a
// configured file -- an unprivileged renewal account is a common layout --
// can rename anything over it: a FIFO (on which a blocking open waits for a
// writer forever, and the agent's main loop with it), or a symbolic link to
// a file they could never write or even read themselves (another CA bundle,
// another service's private key). tlsupd opens configured files without
// blocking and without following a link anyone but root could have made,
// takes only regular files, keeps what it had when a file is refused, and
// names every directory on the way that another user may change.
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <uapi/linux/handshake.h>

#include "agent.hpp"
#include "config.hpp"
#include "credentials.hpp"
#include "fake_channel.hpp"
#include "local_user.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

// Opens FIFO for writing and closes it: a reader blocked in open(2) on it
// gets EOF, so a test of code that blocks can end.
void release_fifo(const std::string &fifo) {
	int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0)
		::close(fd);
}

// A directory tree as a host with a renewal account has it:
//   TOP (root, 0755)/certs (uid 61234, 0755): ca.pem, the truststore
//   TOP/private (root, 0700): rogue-ca.pem, a CA the account cannot read
class AttackFile : public ::testing::Test {
protected:
	void SetUp() override {
		std::string why;
		if (!LocalUser::available(&why))
			GTEST_SKIP() << why;
		char d[] = "/tmp/tlsup-attack-file.XXXXXX";
		ASSERT_TRUE(mkdtemp(d));
		top_ = d;
		ASSERT_EQ(chmod(top_.c_str(), 0755), 0);
		certs_ = top_ + "/certs";
		priv_ = top_ + "/private";
		ASSERT_EQ(mkdir(certs_.c_str(), 0755), 0);
		ASSERT_EQ(mkdir(priv_.c_str(), 0700), 0);
		const Pki &pki = Pki::get();
		std::filesystem::copy_file(pki.path("ca.pem"), certs_ + "/ca.pem");
		std::filesystem::copy_file(pki.path("rogue-ca.pem"), priv_ + "/rogue-ca.pem");
		ASSERT_EQ(chown(certs_.c_str(), LocalUser::kAttacker, LocalUser::kAttacker), 0);
		ASSERT_EQ(chown((certs_ + "/ca.pem").c_str(), LocalUser::kAttacker,
		                LocalUser::kAttacker),
		          0);
	}
	void TearDown() override {
		if (!top_.empty())
			std::filesystem::remove_all(top_);
	}

	// The account's move: NEW made in its directory, renamed over
	// certs/ca.pem.
	static LocalUser::Act rename_over(std::string certs,
	                                  std::function<int(const char *)> make) {
		return [=]() -> LocalUser::Outcome {
			std::string tmp = certs + "/.ca.pem.new", target = certs + "/ca.pem";
			if (make(tmp.c_str()) < 0)
				return {{}, errno, "make " + tmp};
			if (::rename(tmp.c_str(), target.c_str()) < 0)
				return {{}, errno, "rename"};
			return {};
		};
	}

	Config config() {
		ConfigSpec spec;
		spec.server_cert = spec.server_key = "server";
		Config cfg = make_config(spec);
		cfg.server.truststore = certs_ + "/ca.pem";
		return cfg;
	}

	std::string top_, certs_, priv_;
};

TEST_F(AttackFile, AFifoRenamedOverTheTruststoreNeverBlocks) {
	LocalUser account(LocalUser::kAttacker,
	                  rename_over(certs_, [](const char *p) { return mkfifo(p, 0644); }));
	ASSERT_TRUE(account.ok()) << account.why();
	Config cfg = config();
	auto loading = std::async(std::launch::async, [&] { return load_credentials(cfg); });
	bool returned = loading.wait_for(3s) == std::future_status::ready;
	if (!returned)
		release_fifo(cfg.server.truststore);
	auto r = loading.get();
	ASSERT_TRUE(returned) << "load_credentials blocked on the FIFO for 3 s";
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().reason.find("[authenticate.server] x509.truststore: " +
	                                cfg.server.truststore + ": not a regular file (a FIFO)"),
	          std::string::npos)
	        << r.error().reason;
}

TEST_F(AttackFile, AFifoAsTheConfigurationFileNeverBlocks) {
	std::string conf = certs_ + "/tlsupd.conf";
	LocalUser account(LocalUser::kAttacker, [conf]() -> LocalUser::Outcome {
		if (mkfifo(conf.c_str(), 0644) < 0)
			return {{}, errno, "mkfifo"};
		return {};
	});
	ASSERT_TRUE(account.ok()) << account.why();
	auto loading = std::async(std::launch::async, [&] { return load_config_file(conf); });
	bool returned = loading.wait_for(3s) == std::future_status::ready;
	if (!returned)
		release_fifo(conf);
	auto r = loading.get();
	ASSERT_TRUE(returned) << "load_config_file blocked on the FIFO for 3 s";
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().reason.find("not a regular file"), std::string::npos)
	        << r.error().reason;
}

TEST_F(AttackFile, ASymlinkSwappedInByTheDirectoryOwnerIsRefused) {
	// The account cannot read private/rogue-ca.pem; a link to it would
	// have the agent trust that CA on the account's word.
	std::string other = priv_ + "/rogue-ca.pem";
	LocalUser account(LocalUser::kAttacker, rename_over(certs_, [other](const char *p) {
		                  return symlink(other.c_str(), p);
	                  }));
	ASSERT_TRUE(account.ok()) << account.why();
	auto r = load_credentials(config());
	ASSERT_FALSE(r.ok()) << "the account's link was followed";
	EXPECT_NE(r.error().reason.find(certs_ + "/ca.pem: a symbolic link in " + certs_ +
	                                ", which uid 61234 may change"),
	          std::string::npos)
	        << r.error().reason;
}

TEST_F(AttackFile, ALinkAnotherUserMadeInAStickyDirectoryIsRefused) {
	// A directory like /tmp: root's, anyone may add a name, no one may
	// replace another's. A configured name that did not exist yet is the
	// first user's to make -- as a link to what they like.
	ASSERT_EQ(chmod(top_.c_str(), 01777), 0);
	std::string name = top_ + "/ca.pem", other = priv_ + "/rogue-ca.pem";
	LocalUser user(LocalUser::kAttacker, [=]() -> LocalUser::Outcome {
		if (symlink(other.c_str(), name.c_str()) < 0)
			return {{}, errno, "symlink"};
		return {};
	});
	ASSERT_TRUE(user.ok()) << user.why();
	Config cfg = config();
	cfg.server.truststore = name;
	auto r = load_credentials(cfg);
	ASSERT_FALSE(r.ok()) << "the user's link was followed";
	EXPECT_NE(r.error().reason.find(name + ": a symbolic link uid 61234 made: refused"),
	          std::string::npos)
	        << r.error().reason;
}

TEST_F(AttackFile, TheOwnerOfADirectoryOnThePathIsNamed) {
	// Root's own file, in the account's directory: the account may
	// replace it all the same, and the warning must say so.
	ASSERT_EQ(chown((certs_ + "/ca.pem").c_str(), 0, 0), 0);
	auto r = load_credentials(config());
	ASSERT_TRUE(r.ok()) << r.error().reason;
	std::string all;
	for (const auto &w : r.value()->warnings)
		all += w + "\n";
	EXPECT_NE(all.find("[authenticate.server] x509.truststore: " + certs_ +
	                   "/ca.pem: directory " + certs_ +
	                   " belongs to uid 61234, who may replace what it holds (chown root)"),
	          std::string::npos)
	        << all;
}

// The whole agent: the account renames a FIFO over the truststore while the
// agent watches the directory for renewals. The reload that follows must
// refuse it, keep the previous credentials and leave the main loop serving.
TEST_F(AttackFile, AFifoRenamedOverAWatchedTruststoreKeepsTheAgentServing) {
	std::string conf = top_ + "/tlsupd.conf", sock = top_ + "/control";
	const Pki &pki = Pki::get();
	std::ofstream(conf) << "[agent]\nworkers = 1\ncontrol_socket = " << sock
	                    << "\n[authenticate.server]\nx509.truststore = " << certs_
	                    << "/ca.pem\nx509.certificate = " << pki.path("server.pem")
	                    << "\nx509.private_key = " << pki.path("server.key") << "\n";
	FakeKernel kernel;
	AgentOptions o;
	o.config_path = conf;
	o.consumer_keyrings = {};
	o.credential_settle = 20ms;
	o.open_channel = [&](bool) -> Result<std::unique_ptr<HandshakeChannel>> {
		return std::unique_ptr<HandshakeChannel>(std::make_unique<FakeChannel>(kernel));
	};
	CaptureLog log;
	auto agent = Agent::create(o, log.log());
	ASSERT_TRUE(agent.ok()) << agent.error().reason;
	std::thread t([&] { EXPECT_TRUE(agent.value()->run().ok()); });
	ASSERT_TRUE(kernel.wait_eagains(1));

	LocalUser account(LocalUser::kAttacker,
	                  rename_over(certs_, [](const char *p) { return mkfifo(p, 0644); }));
	ASSERT_TRUE(account.ok()) << account.why();
	for (int i = 0; i < 300 && !log.contains("keeping the previous ones"); i++)
		std::this_thread::sleep_for(10ms);
	auto status = control_request(sock, "status", 2000);
	if (!status.ok())
		release_fifo(certs_ + "/ca.pem");
	EXPECT_TRUE(status.ok()) << "the main loop does not answer: " << status.error().reason;
	EXPECT_TRUE(log.contains("not a regular file (a FIFO); keeping the previous ones"))
	        << ::testing::PrintToString(log.lines());
	agent.value()->stop();
	t.join();
}

} // namespace
} // namespace tlsup::test
