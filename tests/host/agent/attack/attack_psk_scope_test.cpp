// SPDX-License-Identifier: GPL-2.0
//
// Attacker's tests: one consumer's PSK is not another's. A host runs an
// NVMe/TCP target and an NFS server over TLS with PSKs; a peer that holds
// an NVMe PSK (an NVMe host's, say) must not authenticate to the NFS
// server with it. The kernel names each server request's keyring (its
// ta_keyring: KEYRING in tlsup.ko's ACCEPT reply, a link into the agent's
// process keyring on upstream kernels); a server PSK is looked for there,
// among the identities the kernel names and in the keyrings the
// administrator configured -- never in another consumer's keyring.
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <thread>

#include <uapi/linux/handshake.h>

#include "agent.hpp"
#include "fake_channel.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

using namespace std::chrono_literals;

class AttackPskScope : public ::testing::TestWithParam<bool> {
protected:
	void SetUp() override {
		char d[] = "/tmp/tlsup-attack-scope.XXXXXX";
		ASSERT_TRUE(mkdtemp(d));
		dir_ = d;
		std::string tag = std::to_string(getpid());
		nvme_name_ = "tlsupd-scope-nvme-" + tag;
		nfsd_name_ = "tlsupd-scope-nfsd-" + tag;
		// The consumers' keyrings (as .nvme and .nfsd): "user" keys are
		// PSKs in them (psk_keyrings; the host may lack the "psk" type).
		nvme_ = add_keyring(nvme_name_, KEY_SPEC_SESSION_KEYRING);
		nfsd_ = add_keyring(nfsd_name_, KEY_SPEC_SESSION_KEYRING);
		add_user_key("nvme-host", nvme_key_, nvme_);
		add_user_key("nfs-client", nfs_key_, nfsd_);
		std::ofstream(dir_ + "/tlsupd.conf")
		        << "[agent]\nworkers = 1\ncontrol_socket = " << dir_
		        << "/control\n[authenticate]\npsk_keyrings = " << nvme_name_ << ";"
		        << nfsd_name_ << "\n";
		AgentOptions o;
		o.config_path = dir_ + "/tlsupd.conf";
		o.consumer_keyrings = {nvme_name_, nfsd_name_};
		o.open_channel =
		        [this](bool notifications) -> Result<std::unique_ptr<HandshakeChannel>> {
			auto ch = std::make_unique<FakeChannel>(kernel_);
			channels_.push_back(ch.get());
			if (notifications)
				acceptor_ = ch.get();
			return std::unique_ptr<HandshakeChannel>(std::move(ch));
		};
		auto agent = Agent::create(o, log_.log());
		ASSERT_TRUE(agent.ok()) << agent.error().reason;
		agent_ = std::move(agent).value();
		thread_ = std::thread([this] { EXPECT_TRUE(agent_->run().ok()); });
		ASSERT_TRUE(kernel_.wait_eagains(1));
	}
	void TearDown() override {
		if (agent_) {
			agent_->stop();
			thread_.join();
		}
		std::filesystem::remove_all(dir_);
	}

	// A server PSK request of the consumer whose keyring is RING (sent in
	// KEYRING when the parameter says so), and a client that offers
	// IDENTITY with KEY. The DONE status: EIO means the handshake
	// succeeded (this host has no kTLS), EKEYREJECTED that the identity
	// was not found.
	uint32_t handshake(key_serial_t ring, const std::string &identity,
	                   const std::vector<uint8_t> &key) {
		return server_psk_status(kernel_, *acceptor_, identity, key, ring, GetParam());
	}

	std::string dir_, nvme_name_, nfsd_name_;
	key_serial_t nvme_ = 0, nfsd_ = 0;
	std::vector<uint8_t> nvme_key_ = random_bytes(32), nfs_key_ = random_bytes(32);
	FakeKernel kernel_;
	std::vector<FakeChannel *> channels_;
	FakeChannel *acceptor_ = nullptr; // the one READY goes to
	CaptureLog log_;
	std::unique_ptr<Agent> agent_;
	std::thread thread_;
};

TEST_P(AttackPskScope, AnNvmePskDoesNotOpenTheNfsServer) {
	EXPECT_EQ(handshake(nfsd_, "nvme-host", nvme_key_), static_cast<uint32_t>(EKEYREJECTED))
	        << ::testing::PrintToString(log_.lines());
	EXPECT_EQ(handshake(nvme_, "nfs-client", nfs_key_), static_cast<uint32_t>(EKEYREJECTED));
}

TEST_P(AttackPskScope, EachConsumerFindsItsOwn) {
	EXPECT_EQ(handshake(nvme_, "nvme-host", nvme_key_), static_cast<uint32_t>(EIO))
	        << ::testing::PrintToString(log_.lines());
	EXPECT_EQ(handshake(nfsd_, "nfs-client", nfs_key_), static_cast<uint32_t>(EIO));
	// Again: upstream, the first requests' keyrings left the process
	// keyring with them, so each ACCEPT's link is seen anew; on tlsup.ko
	// they stay there (the agent holds them), and KEYRING still decides.
	EXPECT_EQ(handshake(nvme_, "nvme-host", nvme_key_), static_cast<uint32_t>(EIO));
	EXPECT_EQ(handshake(nfsd_, "nvme-host", nvme_key_), static_cast<uint32_t>(EKEYREJECTED));
}

TEST_P(AttackPskScope, ARequestWithoutAKeyringFindsNoConsumersPsk) {
	// A consumer that names no keyring gets the kernel's identities and the
	// configured keyrings only.
	EXPECT_EQ(handshake(0, "nvme-host", nvme_key_), static_cast<uint32_t>(EKEYREJECTED));
	// Also once an NVMe request's ACCEPT linked .nvme into the process
	// keyring (on tlsup.ko it stays there): nothing reads the process
	// keyring.
	EXPECT_EQ(handshake(nvme_, "nvme-host", nvme_key_), static_cast<uint32_t>(EIO))
	        << ::testing::PrintToString(log_.lines());
	EXPECT_EQ(handshake(0, "nvme-host", nvme_key_), static_cast<uint32_t>(EKEYREJECTED));
}

INSTANTIATE_TEST_SUITE_P(KeyringAttribute, AttackPskScope, ::testing::Values(true, false),
                         [](const auto &info) {
	                         return info.param ? std::string("Sent") : std::string("NotSent");
                         });

} // namespace
} // namespace tlsup::test
