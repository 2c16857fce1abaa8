// SPDX-License-Identifier: GPL-2.0
//
// Which kernel side serves this namespace, for NETLINK_BROADCAST_ERROR:
// tlsup.ko (it keeps a request whose READY overflowed) or upstream's
// net/handshake (it fails the submit).
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

} // namespace
} // namespace tlsup
