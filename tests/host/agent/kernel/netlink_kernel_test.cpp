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

#include "netlink.hpp"

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
// missing one waits, says so once and keeps ticking.
TEST(WaitForGenlFamily, AFamilyThatExistsReturnsAtOnce) {
	int waiting = 0, ticks = 0;
	auto r = wait_for_genl_family(
	        "nlctrl", [&] { waiting++; },
	        [&] {
		        ticks++;
		        return true;
	        },
	        std::chrono::milliseconds(20));
	ASSERT_TRUE(r) << r.error().reason;
	EXPECT_FALSE(r.value()); // did not wait
	EXPECT_EQ(waiting, 0);
	EXPECT_EQ(ticks, 0);
}

TEST(WaitForGenlFamily, AMissingFamilyIsWaitedForAndSaidOnce) {
	int waiting = 0, ticks = 0;
	auto t0 = std::chrono::steady_clock::now();
	auto r = wait_for_genl_family(
	        "tlsup-no-such", [&] { waiting++; }, [&] { return ++ticks < 4; },
	        std::chrono::milliseconds(20));
	auto took = std::chrono::steady_clock::now() - t0;
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().code, ECANCELED);
	EXPECT_NE(r.error().reason.find("tlsup-no-such"), std::string::npos) << r.error().reason;
	EXPECT_EQ(waiting, 1);
	EXPECT_EQ(ticks, 4);
	// Three waits of 20 ms between the four ticks.
	EXPECT_GE(took, std::chrono::milliseconds(60));
}

} // namespace
} // namespace tlsup
