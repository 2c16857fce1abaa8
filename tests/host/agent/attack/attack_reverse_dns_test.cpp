// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: reverse DNS. With [agent] reverse_dns on, a client
// request without PEERNAME may match the server's certificate against a
// name a PTR lookup gave for the server's address. Whoever answers that PTR
// query -- the address's owner, or anyone who can spoof one DNS answer --
// picks the name. A name is used only when its own forward lookup gives the
// address back (forward-confirmed reverse DNS): the PTR alone must not be
// able to claim a name whose owner points it elsewhere.
//
// The resolver is glibc's, as the agent runs it, against a DNS server of
// the test's: a child process with a mount namespace of its own sees an
// /etc/resolv.conf naming it and an /etc/nsswitch.conf that asks DNS.
#include <arpa/inet.h>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <thread>

#include "local_user.hpp"
#include "reverse_dns.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

constexpr const char *kDnsAddress = "127.0.0.153";
constexpr const char *kServer = "127.0.0.3"; // the address the consumer connected to

// A DNS server for one zone's worth of answers: PTR and A records by name;
// anything else is answered with no data.
class FakeDns {
public:
	std::map<std::string, std::string> ptr; // "3.0.0.127.in-addr.arpa" -> "server.test"
	std::map<std::string, std::string> a;   // "server.test" -> "192.0.2.1"

	bool start() {
		fd_.reset(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
		sockaddr_in sa{};
		sa.sin_family = AF_INET;
		sa.sin_port = htons(53);
		inet_pton(AF_INET, kDnsAddress, &sa.sin_addr);
		if (bind(fd_.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0)
			return false;
		timeval tv{0, 100000};
		setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		thread_ = std::thread([this] { serve(); });
		return true;
	}
	~FakeDns() {
		stop_ = true;
		if (thread_.joinable())
			thread_.join();
	}

private:
	void serve() {
		while (!stop_) {
			uint8_t q[512];
			sockaddr_storage from{};
			socklen_t flen = sizeof(from);
			ssize_t n = recvfrom(fd_.get(), q, sizeof(q), 0,
			                     reinterpret_cast<sockaddr *>(&from), &flen);
			if (n < 12)
				continue;
			std::string name;
			size_t i = 12;
			while (i < static_cast<size_t>(n) && q[i] != 0) {
				size_t len = q[i++];
				if (i + len > static_cast<size_t>(n))
					break;
				if (!name.empty())
					name += '.';
				name.append(reinterpret_cast<char *>(q + i), len);
				i += len;
			}
			if (i + 5 > static_cast<size_t>(n))
				continue;
			size_t qend = i + 5;
			uint16_t qtype = static_cast<uint16_t>(q[i + 1] << 8 | q[i + 2]);
			for (char &c : name)
				c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
			std::vector<uint8_t> rdata;
			if (qtype == 12 && ptr.count(name)) {
				std::string target = ptr[name];
				size_t p = 0;
				while (p < target.size()) {
					size_t dot = target.find('.', p);
					if (dot == std::string::npos)
						dot = target.size();
					rdata.push_back(static_cast<uint8_t>(dot - p));
					rdata.insert(rdata.end(), target.begin() + p,
					             target.begin() + dot);
					p = dot + 1;
				}
				rdata.push_back(0);
			} else if (qtype == 1 && a.count(name)) {
				rdata.resize(4);
				inet_pton(AF_INET, a[name].c_str(), rdata.data());
			}
			std::vector<uint8_t> r(q, q + qend);
			r[2] = 0x81; // response, recursion desired
			r[3] = 0x80; // recursion available, NOERROR
			r[6] = 0;
			r[7] = rdata.empty() ? 0 : 1; // answers
			r[8] = r[9] = r[10] = r[11] = 0;
			if (!rdata.empty()) {
				uint8_t rr[] = {0xc0,
				                0x0c,
				                0,
				                static_cast<uint8_t>(qtype),
				                0,
				                1,
				                0,
				                0,
				                0,
				                60,
				                static_cast<uint8_t>(rdata.size() >> 8),
				                static_cast<uint8_t>(rdata.size())};
				r.insert(r.end(), rr, rr + sizeof(rr));
				r.insert(r.end(), rdata.begin(), rdata.end());
			}
			sendto(fd_.get(), r.data(), r.size(), 0,
			       reinterpret_cast<sockaddr *>(&from), flen);
		}
	}

	UniqueFd fd_;
	std::thread thread_;
	std::atomic<bool> stop_{false};
};

class AttackReverseDns : public ::testing::Test {
protected:
	void SetUp() override {
		std::string why;
		if (!LocalUser::available(&why))
			GTEST_SKIP() << why;
		char d[] = "/tmp/tlsup-attack-dns.XXXXXX";
		ASSERT_TRUE(mkdtemp(d));
		dir_ = d;
		std::ofstream(dir_ + "/resolv.conf")
		        << "nameserver " << kDnsAddress << "\noptions timeout:1 attempts:1\n";
		std::ofstream(dir_ + "/nsswitch.conf") << "hosts: dns\n";
		dns_.ptr["3.0.0.127.in-addr.arpa"] = "server.test";
		if (!dns_.start())
			GTEST_SKIP() << "cannot bind " << kDnsAddress << ":53: " << strerror(errno);
	}
	void TearDown() override {
		if (!dir_.empty())
			std::filesystem::remove_all(dir_);
	}

	// The agent's lookup of kServer, in a child that sees only FakeDns.
	// TEXT: the names, or "error: " and the reason.
	std::string lookup() {
		std::string dir = dir_;
		LocalUser child(0, [dir]() -> LocalUser::Outcome {
			if (unshare(CLONE_NEWNS) < 0)
				return {{}, errno, "unshare"};
			if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
				return {{}, errno, "mount --make-rprivate /"};
			for (const char *f : {"resolv.conf", "nsswitch.conf"})
				if (mount((dir + "/" + f).c_str(),
				          (std::string("/etc/") + f).c_str(), nullptr, MS_BIND,
				          nullptr) < 0)
					return {{}, errno, std::string("bind mount ") + f};
			sockaddr_storage ss{};
			auto &in = reinterpret_cast<sockaddr_in &>(ss);
			in.sin_family = AF_INET;
			inet_pton(AF_INET, kServer, &in.sin_addr);
			auto names = ReverseResolver::system_lookup(ss);
			LocalUser::Outcome o;
			if (!names)
				o.text = "error: " + names.error().reason;
			else
				for (const auto &n : names.value())
					o.text += (o.text.empty() ? "" : ",") + n;
			return o;
		});
		EXPECT_TRUE(child.ok()) << child.why();
		return child.text();
	}

	std::string dir_;
	FakeDns dns_;
};

TEST_F(AttackReverseDns, APtrNameThatDoesNotResolveBackIsNotUsed) {
	// server.test's owner points it at 192.0.2.1; the PTR of the address
	// the consumer reached claims it all the same.
	dns_.a["server.test"] = "192.0.2.1";
	std::string got = lookup();
	EXPECT_EQ(got.rfind("error: ", 0), 0u) << "the PTR name was used unconfirmed: " << got;
	EXPECT_NE(got.find("server.test"), std::string::npos) << got;
}

TEST_F(AttackReverseDns, APtrNameWithoutAnAddressIsNotUsed) {
	std::string got = lookup(); // server.test has no A record at all
	EXPECT_EQ(got.rfind("error: ", 0), 0u) << "the PTR name was used unconfirmed: " << got;
}

TEST_F(AttackReverseDns, AForwardConfirmedNameIsUsed) {
	dns_.a["server.test"] = kServer;
	EXPECT_EQ(lookup(), "server.test");
}

} // namespace
} // namespace tlsup::test
