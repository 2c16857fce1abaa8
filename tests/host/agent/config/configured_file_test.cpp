// SPDX-License-Identifier: GPL-2.0
//
// Opening a configured file: the walk from '/', the links it follows (root's,
// in directories no one else may change), what it names, what it refuses.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configured_file.hpp"

namespace tlsup::test {
namespace {

class ConfiguredFileTest : public ::testing::Test {
protected:
	void SetUp() override {
		char d[] = "/tmp/tlsup-configured.XXXXXX";
		ASSERT_TRUE(mkdtemp(d));
		dir_ = d;
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }
	std::string write(const std::string &rel, const std::string &text) {
		std::string p = dir_ + "/" + rel;
		std::filesystem::create_directories(std::filesystem::path(p).parent_path());
		std::ofstream(p) << text;
		return p;
	}
	std::string dir_;
};

TEST_F(ConfiguredFileTest, ACertbotStyleLinkInRootsDirectoriesIsFollowed) {
	// live/NAME/cert.pem -> ../../archive/NAME/cert1.pem, as certbot makes.
	write("archive/example/cert1.pem", "one");
	write("archive/example/cert2.pem", "two");
	std::filesystem::create_directories(dir_ + "/live/example");
	std::string live = dir_ + "/live/example/cert.pem";
	ASSERT_EQ(symlink("../../archive/example/cert2.pem", live.c_str()), 0);
	auto text = read_configured_file(live);
	ASSERT_TRUE(text.ok()) << text.error().reason;
	EXPECT_EQ(text.value(), "two");
	auto f = open_configured_file(live);
	ASSERT_TRUE(f.ok());
	EXPECT_TRUE(f->exposure.empty());
	// An absolute link, and one through a linked directory.
	std::string abs = dir_ + "/abs.pem";
	ASSERT_EQ(symlink((dir_ + "/archive/example/cert1.pem").c_str(), abs.c_str()), 0);
	EXPECT_EQ(read_configured_file(abs).value(), "one");
	ASSERT_EQ(symlink("archive/example", (dir_ + "/current").c_str()), 0);
	EXPECT_EQ(read_configured_file(dir_ + "/current/cert1.pem").value(), "one");
	EXPECT_EQ(read_configured_file(dir_ + "/live/./example/../../archive/example/cert1.pem")
	                  .value(),
	          "one");
	// /proc/self is a link root made.
	EXPECT_TRUE(read_configured_file("/proc/self/status").ok());
}

TEST_F(ConfiguredFileTest, WhatItRefuses) {
	std::string loop = dir_ + "/loop";
	ASSERT_EQ(symlink("loop", loop.c_str()), 0);
	EXPECT_EQ(open_configured_file(loop).error().code, ELOOP);
	EXPECT_EQ(open_configured_file(dir_ + "/missing").error().code, ENOKEY);
	auto d = open_configured_file(dir_);
	ASSERT_FALSE(d.ok());
	EXPECT_NE(d.error().reason.find("not a regular file (a directory)"), std::string::npos);
	EXPECT_EQ(open_configured_file("relative.pem").error().code, EINVAL);
	std::string file = write("f", "x");
	auto through = open_configured_file(file + "/below");
	ASSERT_FALSE(through.ok());
	EXPECT_EQ(through.error().code, ENOTDIR) << through.error().reason;
	std::string fifo = dir_ + "/fifo";
	ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
	auto f = open_configured_file(fifo);
	ASSERT_FALSE(f.ok());
	EXPECT_EQ(f.error().reason, fifo + ": not a regular file (a FIFO)");
	auto null = open_configured_file("/dev/null");
	ASSERT_FALSE(null.ok());
	EXPECT_EQ(null.error().reason, "/dev/null: not a regular file (a character device)");
}

TEST_F(ConfiguredFileTest, DirectoriesOthersMayChangeAreNamed) {
	std::string file = write("shared/ca.pem", "x");
	std::string shared = dir_ + "/shared";
	ASSERT_EQ(chmod(shared.c_str(), 0775), 0);
	auto f = open_configured_file(file);
	ASSERT_TRUE(f.ok()) << f.error().reason;
	ASSERT_EQ(f->exposure.size(), 1u);
	EXPECT_EQ(f->exposure[0], "group " + std::to_string(getegid()) +
	                                  " may replace what directory " + shared +
	                                  " holds (mode 0775; chmod g-w)");
	ASSERT_EQ(chmod(shared.c_str(), 0777), 0);
	f = open_configured_file(file);
	ASSERT_TRUE(f.ok());
	ASSERT_EQ(f->exposure.size(), 2u);
	EXPECT_EQ(f->exposure[0], "any user may replace what directory " + shared +
	                                  " holds (mode 0777; chmod o-w)");
	// The sticky bit: others may add names, not replace ours.
	ASSERT_EQ(chmod(shared.c_str(), 01777), 0);
	f = open_configured_file(file);
	ASSERT_TRUE(f.ok());
	EXPECT_TRUE(f->exposure.empty());
	// A link in a directory others may change is never followed.
	ASSERT_EQ(chmod(shared.c_str(), 0777), 0);
	std::string link = shared + "/link.pem";
	ASSERT_EQ(symlink("ca.pem", link.c_str()), 0);
	auto l = open_configured_file(link);
	ASSERT_FALSE(l.ok());
	EXPECT_EQ(l.error().reason.rfind(link + ": a symbolic link in " + shared +
	                                         ", which any user may change",
	                                 0),
	          0u)
	        << l.error().reason;
}

} // namespace
} // namespace tlsup::test
