// SPDX-License-Identifier: GPL-2.0
//
// Key material is wiped before its memory goes back, growth included, and
// key files are read into nothing but wiped memory.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

#include "configured_file.hpp"
#include "secret_bytes.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

// Records, for every block given back, whether it was all zeros by then.
struct Inspecting {
	static inline std::vector<bool> zeroed;
	using value_type = uint8_t;
	Inspecting() = default;
	template <class U>
	Inspecting(const U &) {}
	template <class U>
	struct rebind {
		using other = Inspecting;
	};
	uint8_t *allocate(size_t n) { return static_cast<uint8_t *>(::operator new(n)); }
	void deallocate(uint8_t *p, size_t n) {
		bool z = true;
		for (size_t i = 0; i < n; i++)
			z = z && p[i] == 0;
		zeroed.push_back(z);
		::operator delete(p);
	}
	friend bool operator==(const Inspecting &, const Inspecting &) { return true; }
};

TEST(SecretBytes, EveryBufferIsWipedBeforeItIsFreed) {
	Inspecting::zeroed.clear();
	{
		std::vector<uint8_t, WipingAllocator<uint8_t, Inspecting>> v;
		for (int i = 0; i < 5000; i++)
			v.push_back(static_cast<uint8_t>(0xa5)); // grows, reallocating
	}
	ASSERT_GE(Inspecting::zeroed.size(), 5u); // several reallocations, then the last
	for (bool z : Inspecting::zeroed)
		EXPECT_TRUE(z);
	// The control: without the wiping allocator the secret stays behind.
	Inspecting::zeroed.clear();
	{ std::vector<uint8_t, Inspecting> v(64, 0xa5); }
	ASSERT_EQ(Inspecting::zeroed.size(), 1u);
	EXPECT_FALSE(Inspecting::zeroed[0]);
}

class SecretFile : public ::testing::Test {
protected:
	void SetUp() override {
		char d[] = "/tmp/tlsupd-secret.XXXXXX";
		ASSERT_TRUE(mkdtemp(d));
		dir_ = d;
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }
	std::string write(const std::string &name, const std::string &content) {
		std::string p = dir_ + "/" + name;
		std::ofstream(p, std::ios::binary) << content;
		return p;
	}
	std::string dir_;
};

TEST_F(SecretFile, ReadsTheWholeFile) {
	std::string big(100000, 'k');
	big[99999] = '!';
	for (const std::string &content : {std::string(), std::string("x"), big}) {
		auto s = read_secret_file(write("key.pem", content));
		ASSERT_TRUE(s.ok()) << s.error().reason;
		EXPECT_EQ(std::string(reinterpret_cast<const char *>(s->data()), s->size()),
		          content);
	}
}

TEST_F(SecretFile, ReadsWhatFstatCannotSize) {
	auto s = read_secret_file("/proc/self/status"); // st_size 0, content > 0
	ASSERT_TRUE(s.ok()) << s.error().reason;
	EXPECT_GT(s->size(), 0u);
}

TEST_F(SecretFile, LimitsAndErrors) {
	EXPECT_EQ(read_secret_file(write("big", std::string(2049, 'a')), 2048).error().code,
	          EINVAL);
	EXPECT_TRUE(read_secret_file(write("fits", std::string(2048, 'a')), 2048).ok());
	EXPECT_EQ(read_secret_file(dir_ + "/missing").error().code, ENOKEY);
}

TEST_F(SecretFile, TheConfiguredPrivateKeyLoadsThroughIt) {
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	auto creds = make_credentials(spec);
	ASSERT_TRUE(creds->server.identity.has_value());
}

} // namespace
} // namespace tlsup::test
