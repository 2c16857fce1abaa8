// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: the control socket. It is a name in a directory: who may
// write that directory may put another socket there (and answer tlsupctl
// in the agent's stead), or a symbolic link where the socket is about to be
// made, so that whatever tlsupd then does to the path by name -- a chmod --
// lands on a file of the attacker's choosing. tlsupd makes the socket
// private on its descriptor (fchmod before bind; nothing by path after) and
// only in a directory no one but root may write.
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>

#include "control.hpp"
#include "event_loop.hpp"
#include "local_user.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

class AttackControl : public ::testing::Test {
protected:
	void SetUp() override {
		std::string why;
		if (!LocalUser::available(&why))
			GTEST_SKIP() << why;
		char d[] = "/tmp/tlsup-attack-ctl.XXXXXX";
		ASSERT_TRUE(mkdtemp(d));
		top_ = d;
		ASSERT_EQ(chmod(top_.c_str(), 0755), 0);
		loop_ = EventLoop::create().value();
	}
	void TearDown() override {
		if (!top_.empty())
			std::filesystem::remove_all(top_);
	}

	Result<std::unique_ptr<ControlServer>> open(const std::string &path) {
		return ControlServer::open(
		        path, *loop_, [](const std::string &) { return std::string("ok\n"); },
		        log_.log());
	}

	std::string top_;
	std::unique_ptr<EventLoop> loop_;
	CaptureLog log_;
};

TEST_F(AttackControl, ASymlinkSwappedOverTheSocketChangesNoOtherFile) {
	// The directory is the attacker's; the victim is a root file they
	// cannot touch. The attacker renames a link to it over the socket's
	// name, again and again, while tlsupd (re)starts.
	std::string dir = top_ + "/run", victim_dir = top_ + "/etc";
	ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
	ASSERT_EQ(chown(dir.c_str(), LocalUser::kAttacker, LocalUser::kAttacker), 0);
	ASSERT_EQ(mkdir(victim_dir.c_str(), 0755), 0);
	std::string victim = victim_dir + "/victim.conf", path = dir + "/control";
	std::ofstream(victim) << "mode stays 0644\n";
	ASSERT_EQ(chmod(victim.c_str(), 0644), 0);
	std::string stop = top_ + "/stop";
	// The attacker's loop runs in a process of its own (LocalUser returns
	// when its act does) until the stop file appears.
	LocalUser attacker(LocalUser::kAttacker, [=]() -> LocalUser::Outcome {
		pid_t pid = fork();
		if (pid != 0)
			return {{pid}, pid < 0 ? errno : 0, "fork"};
		// Waits for the socket to appear, then renames a ready link over
		// it at once: tlsupd's next step by name follows it.
		std::string tmp = dir + "/.link";
		auto start = std::chrono::steady_clock::now();
		for (unsigned i = 0; std::chrono::steady_clock::now() - start < 20s; i++) {
			if ((i & 1023) == 0 && ::access(stop.c_str(), F_OK) == 0)
				break;
			struct stat st;
			if (::lstat(tmp.c_str(), &st) != 0)
				(void)!::symlink(victim.c_str(), tmp.c_str());
			if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
				::rename(tmp.c_str(), path.c_str());
		}
		_exit(0);
	});
	ASSERT_TRUE(attacker.ok()) << attacker.why();
	auto victim_mode = [&] {
		struct stat st {};
		::stat(victim.c_str(), &st);
		return st.st_mode & 07777;
	};
	int opened = 0;
	auto until = std::chrono::steady_clock::now() + 3s;
	// Before the fix the attacker won within 2 to 400 starts.
	for (int i = 0;
	     i < 2000 && std::chrono::steady_clock::now() < until && victim_mode() == 0644; i++) {
		auto srv = open(path);
		opened += srv.ok();
		// What the attacker left at the name, so that the next start finds
		// the name free (as after an agent's restart).
		::unlink(path.c_str());
	}
	// The loop is the child's child: not ours to wait for; stopped here.
	std::ofstream(stop) << "";
	::kill(static_cast<pid_t>(attacker.value(0)), SIGKILL);
	EXPECT_EQ(victim_mode(), 0644u)
	        << "the agent chmod()ed the attacker's link target (" << opened << " starts)";
}

TEST_F(AttackControl, ADirectoryOthersMayWriteIsRefused) {
	struct Case {
		const char *what;
		mode_t mode;
		uid_t owner;
		const char *reason;
	};
	const Case cases[] = {
	        {"another user's", 0755, LocalUser::kAttacker, "belongs to uid 61234"},
	        {"world-writable, sticky", 01777, 0, "any user may add names to it (mode 1777)"},
	        {"group-writable", 0775, 0, "may add names to it (mode 0775)"},
	};
	for (const Case &c : cases) {
		std::string dir =
		        top_ + "/" + std::to_string(c.mode) + "-" + std::to_string(c.owner);
		ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
		ASSERT_EQ(chmod(dir.c_str(), c.mode), 0);
		ASSERT_EQ(chown(dir.c_str(), c.owner, 0), 0);
		auto srv = open(dir + "/control");
		ASSERT_FALSE(srv.ok()) << c.what << ": a socket was made in " << dir;
		EXPECT_NE(srv.error().reason.find(c.reason), std::string::npos)
		        << c.what << ": " << srv.error().reason;
	}
}

TEST_F(AttackControl, OnlyRootMayConnectWhateverTheUmask) {
	// Private on its descriptor: the process umask, shared by every thread,
	// is not touched, and a umask of 0 does not widen the socket.
	std::string dir = top_ + "/run", path = dir + "/control";
	ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
	mode_t old = umask(0);
	auto srv = open(path);
	umask(old);
	ASSERT_TRUE(srv.ok()) << srv.error().reason;
	struct stat st {};
	ASSERT_EQ(lstat(path.c_str(), &st), 0);
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	EXPECT_EQ(st.st_mode & 07777, 0600u);
	LocalUser user(LocalUser::kAttacker, [path]() -> LocalUser::Outcome {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sockaddr_un a{};
		a.sun_family = AF_UNIX;
		std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
		int r = connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a));
		return {{r < 0 ? errno : 0}};
	});
	ASSERT_TRUE(user.ok()) << user.why();
	EXPECT_EQ(user.value(0), EACCES);
}

} // namespace
} // namespace tlsup::test
