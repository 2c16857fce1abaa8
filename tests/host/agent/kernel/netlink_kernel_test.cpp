// SPDX-License-Identifier: GPL-2.0
//
// Which kernel side serves this namespace, for NETLINK_BROADCAST_ERROR:
// tlsup.ko (it keeps a request whose READY overflowed) or upstream's
// net/handshake (it fails the submit).
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

#include "netlink.hpp"
#include "unique_fd.hpp"

namespace tlsup {
namespace {

class KernelSide : public ::testing::Test {
protected:
	void SetUp() override {
		char d[] = "/tmp/tlsupd-kside.XXXXXX";
		ASSERT_TRUE(mkdtemp(d));
		root_ = d;
		std::filesystem::create_directories(root_ + "/proc/net");
		std::filesystem::create_directories(root_ + "/sys/module");
	}
	void TearDown() override { std::filesystem::remove_all(root_); }
	void touch(const std::string &p) { std::ofstream(root_ + p) << ""; }
	bool keeps() { return kernel_keeps_overflowed_requests(root_ + "/proc", root_ + "/sys"); }
	std::string root_;
};

TEST_F(KernelSide, ProcNetTlsupMeansTlsupKo) {
	touch("/proc/net/netlink");
	EXPECT_FALSE(keeps()); // upstream: /proc/net without tlsup
	touch("/proc/net/tlsup");
	EXPECT_TRUE(keeps());
}

TEST_F(KernelSide, ProcNetDecidesOverSys) {
	// A readable /proc/net without tlsup is this namespace's answer.
	touch("/proc/net/netlink");
	std::filesystem::create_directories(root_ + "/sys/module/tlsup");
	EXPECT_FALSE(keeps());
}

TEST_F(KernelSide, SysModuleIsTheFallback) {
	EXPECT_FALSE(keeps()); // nothing readable: upstream's behaviour is the safe guess
	std::filesystem::create_directories(root_ + "/sys/module/tlsup");
	EXPECT_TRUE(keeps());
}

TEST(KernelSideHere, TheBuildHostHasNoTlsupKo) {
	// The host tests run on a kernel without tlsup.ko.
	EXPECT_FALSE(kernel_keeps_overflowed_requests());
}

// tlsupd waits for the "handshake" family instead of failing when tlsup.ko
// is not loaded yet (main.cpp). The family appearing is the e2e case "agent
// started before tlsup.ko"; here: a family that exists returns at once, a
// missing one waits, says so once, ticks at its period, and its stop fd
// ends the wait.
TEST(WaitForGenlFamily, AFamilyThatExistsReturnsAtOnce) {
	int waiting = 0, ticks = 0;
	FamilyWait how;
	how.waiting = [&] { waiting++; };
	how.tick = [&] {
		ticks++;
		return true;
	};
	auto r = wait_for_genl_family("nlctrl", how);
	ASSERT_TRUE(r) << r.error().reason;
	EXPECT_EQ(r.value(), FamilyFound::kAtOnce);
	EXPECT_EQ(waiting, 0);
	EXPECT_EQ(ticks, 0);
}

TEST(WaitForGenlFamily, AMissingFamilyIsWaitedForAndSaidOnce) {
	int waiting = 0, ticks = 0;
	FamilyWait how;
	how.waiting = [&] { waiting++; };
	how.tick = [&] { return ++ticks < 4; };
	how.tick_every = std::chrono::milliseconds(20);
	how.ask_every = std::chrono::milliseconds(5);
	auto t0 = std::chrono::steady_clock::now();
	auto r = wait_for_genl_family("tlsup-no-such", how);
	auto took = std::chrono::steady_clock::now() - t0;
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().code, ECANCELED);
	EXPECT_NE(r.error().reason.find("tlsup-no-such"), std::string::npos) << r.error().reason;
	EXPECT_EQ(waiting, 1);
	// The fourth tick ends it: three periods of 20 ms, whatever the asks.
	EXPECT_EQ(ticks, 4);
	EXPECT_GE(took, std::chrono::milliseconds(55));
	EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(WaitForGenlFamily, ItsStopFdEndsTheWait) {
	int pipefd[2];
	ASSERT_EQ(pipe(pipefd), 0);
	UniqueFd rd(pipefd[0]), wr(pipefd[1]);
	int readable = 0;
	FamilyWait how;
	how.tick = [&] {
		// Once waiting, the stop fd becomes readable.
		(void)::write(wr.get(), "x", 1);
		return true;
	};
	how.stop_fd = rd.get();
	how.stop_readable = [&] { return ++readable < 2; }; // not drained: readable again
	auto r = wait_for_genl_family("tlsup-no-such", how);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().code, ECANCELED);
	EXPECT_EQ(readable, 2);
}

} // namespace
} // namespace tlsup
