// SPDX-License-Identifier: GPL-2.0
//
// A request's keyring: found from what its ACCEPT linked into the process
// keyring (or its KEYRING attribute), moved out of the process keyring for
// the request's life, and let go afterwards.
#include <algorithm>
#include <gtest/gtest.h>

#include "request_keyring.hpp"
#include "test_support.hpp"

namespace tlsup::test {
namespace {

bool linked_in(key_serial_t ring, key_serial_t key) {
	auto c = keyring_contents(ring);
	return c && std::find(c->begin(), c->end(), key) != c->end();
}

class RequestKeyringTest : public ::testing::Test {
protected:
	void SetUp() override {
		ASSERT_TRUE(ensure_process_keyring().ok());
		keyrings_ = AcceptKeyrings::create(log_.log()).value();
	}
	CaptureLog log_;
	std::unique_ptr<AcceptKeyrings> keyrings_;
};

TEST_F(RequestKeyringTest, TheKeyringAnAcceptLinkedIsTheRequestsAndLeavesTheProcessKeyring) {
	key_serial_t consumer = add_keyring("consumer", KEY_SPEC_SESSION_KEYRING);
	RequestKeyring mine;
	{
		auto window = keyrings_->open_window();
		ASSERT_EQ(keyctl_link(consumer, KEY_SPEC_PROCESS_KEYRING), 0); // the ACCEPT
		mine = window.claim(0); // upstream: no KEYRING
	}
	EXPECT_EQ(mine.keyring(), consumer);
	EXPECT_FALSE(linked_in(KEY_SPEC_PROCESS_KEYRING, consumer));
	// Still reachable (possessed) through the request's holder.
	auto holders = keyring_contents(keyrings_->holders()).value();
	ASSERT_EQ(holders.size(), 1u);
	EXPECT_TRUE(linked_in(holders[0], consumer));
	mine.release();
	EXPECT_TRUE(keyring_contents(keyrings_->holders()).value().empty());
	keyctl_invalidate(consumer);
}

TEST_F(RequestKeyringTest, TheKeyringAttributeWins) {
	key_serial_t named = add_keyring("named", KEY_SPEC_SESSION_KEYRING);
	RequestKeyring mine;
	{
		auto window = keyrings_->open_window();
		ASSERT_EQ(keyctl_link(named, KEY_SPEC_PROCESS_KEYRING), 0);
		mine = window.claim(named); // tlsup.ko
	}
	EXPECT_EQ(mine.keyring(), named);
	EXPECT_FALSE(linked_in(KEY_SPEC_PROCESS_KEYRING, named));
	keyctl_invalidate(named);
}

TEST_F(RequestKeyringTest, AKeyringLinkedBeforeStaysLinked) {
	// A configured keyring the consumer also names: the ACCEPT's link was
	// a no-op, and start-up's link must survive the request.
	key_serial_t configured = add_keyring("configured", KEY_SPEC_SESSION_KEYRING);
	ASSERT_EQ(keyctl_link(configured, KEY_SPEC_PROCESS_KEYRING), 0);
	{
		auto window = keyrings_->open_window();
		ASSERT_EQ(keyctl_link(configured, KEY_SPEC_PROCESS_KEYRING), 0);
		auto mine = window.claim(configured);
		EXPECT_EQ(mine.keyring(), configured);
	}
	EXPECT_TRUE(linked_in(KEY_SPEC_PROCESS_KEYRING, configured));
	// Without the attribute nothing says which keyring it was: none.
	{
		auto window = keyrings_->open_window();
		ASSERT_EQ(keyctl_link(configured, KEY_SPEC_PROCESS_KEYRING), 0);
		EXPECT_EQ(window.claim(0).keyring(), 0);
	}
	EXPECT_TRUE(linked_in(KEY_SPEC_PROCESS_KEYRING, configured));
	ASSERT_EQ(keyctl_unlink(configured, KEY_SPEC_PROCESS_KEYRING), 0);
	keyctl_invalidate(configured);
}

TEST_F(RequestKeyringTest, AnAcceptWithoutAKeyringMakesNoHolder) {
	{
		auto window = keyrings_->open_window();
		EXPECT_EQ(window.claim(0).keyring(), 0);
	}
	EXPECT_TRUE(keyring_contents(keyrings_->holders()).value().empty());
}

TEST_F(RequestKeyringTest, TwoRequestsWithTheSameKeyringEachHoldIt) {
	key_serial_t consumer = add_keyring("shared consumer", KEY_SPEC_SESSION_KEYRING);
	auto accept = [&] {
		auto window = keyrings_->open_window();
		keyctl_link(consumer, KEY_SPEC_PROCESS_KEYRING);
		return window.claim(0);
	};
	RequestKeyring first = accept();
	RequestKeyring second = accept(); // linked afresh: the first moved it out
	EXPECT_EQ(first.keyring(), consumer);
	EXPECT_EQ(second.keyring(), consumer);
	first.release();
	auto holders = keyring_contents(keyrings_->holders()).value();
	ASSERT_EQ(holders.size(), 1u);
	EXPECT_TRUE(linked_in(holders[0], consumer));
	keyctl_invalidate(consumer);
}

// On tlsup.ko, which names every keyring its ACCEPT links in KEYRING.
class RequestKeyringOnTlsupTest : public RequestKeyringTest {
protected:
	void SetUp() override {
		ASSERT_TRUE(ensure_process_keyring().ok());
		keyrings_ = AcceptKeyrings::create(log_.log(), true).value();
	}
};

TEST_F(RequestKeyringOnTlsupTest, TheNamedKeyringIsHeldAndLeavesTheProcessKeyring) {
	key_serial_t named = add_keyring("named on tlsup", KEY_SPEC_SESSION_KEYRING);
	for (int i = 0; i < 2; i++) { // the second ACCEPT links it afresh
		RequestKeyring mine;
		{
			auto window = keyrings_->open_window();
			ASSERT_EQ(keyctl_link(named, KEY_SPEC_PROCESS_KEYRING), 0);
			mine = window.claim(named);
		}
		EXPECT_EQ(mine.keyring(), named);
		EXPECT_FALSE(linked_in(KEY_SPEC_PROCESS_KEYRING, named)) << "ACCEPT " << i;
		auto holders = keyring_contents(keyrings_->holders()).value();
		ASSERT_EQ(holders.size(), 1u);
		EXPECT_TRUE(linked_in(holders[0], named));
	}
	keyctl_invalidate(named);
}

TEST_F(RequestKeyringOnTlsupTest, AConfiguredKeyringIsUsedWhereItIs) {
	// Linked at start-up (under lock(), as the linker does): the request
	// uses it without a holder, and it stays linked.
	key_serial_t configured = add_keyring("configured on tlsup", KEY_SPEC_SESSION_KEYRING);
	{
		auto lock = keyrings_->lock();
		ASSERT_EQ(keyctl_link(configured, KEY_SPEC_PROCESS_KEYRING), 0);
	}
	{
		auto window = keyrings_->open_window();
		ASSERT_EQ(keyctl_link(configured, KEY_SPEC_PROCESS_KEYRING), 0);
		auto mine = window.claim(configured);
		EXPECT_EQ(mine.keyring(), configured);
	}
	EXPECT_TRUE(linked_in(KEY_SPEC_PROCESS_KEYRING, configured));
	EXPECT_TRUE(keyring_contents(keyrings_->holders()).value().empty());
	ASSERT_EQ(keyctl_unlink(configured, KEY_SPEC_PROCESS_KEYRING), 0);
	keyctl_invalidate(configured);
}

// A keyring tlsupd:linked holds (a configured or consumer keyring, as the
// KeyringLinker's snapshot says): possessed already, so no holder of the
// request's own. Upstream, the ACCEPT's link leaves the process keyring
// (the next ACCEPT's must show); on tlsup.ko, which names it, it stays.
TEST(RequestKeyringHeldByAgentTest, NeedsNoHolderAndStaysLinkedOnlyOnTlsupKo) {
	ASSERT_TRUE(ensure_process_keyring().ok());
	for (bool tlsup_ko : {false, true}) {
		CaptureLog log;
		key_serial_t agent_holder = add_keyring("agent's linked", KEY_SPEC_SESSION_KEYRING);
		key_serial_t held = add_keyring("held by the agent", KEY_SPEC_SESSION_KEYRING);
		key_serial_t other = add_keyring("not held", KEY_SPEC_SESSION_KEYRING);
		ASSERT_EQ(keyctl_link(held, agent_holder), 0);
		KeyringStore store;
		LinkedKeyrings linked;
		(tlsup_ko ? linked.consumer : linked.keyrings).push_back(held);
		store.replace(linked);
		auto keyrings = AcceptKeyrings::create(log.log(), tlsup_ko, &store).value();
		auto accept = [&](key_serial_t ring) {
			auto window = keyrings->open_window();
			EXPECT_EQ(keyctl_link(ring, KEY_SPEC_PROCESS_KEYRING), 0);
			return window.claim(tlsup_ko ? ring : 0);
		};
		for (int i = 0; i < 2; i++) {
			RequestKeyring mine = accept(held);
			EXPECT_EQ(mine.keyring(), held) << tlsup_ko << i;
			EXPECT_EQ(linked_in(KEY_SPEC_PROCESS_KEYRING, held), tlsup_ko)
			        << tlsup_ko << i;
			EXPECT_TRUE(keyring_contents(keyrings->holders()).value().empty())
			        << tlsup_ko << i;
			mine.release();
			EXPECT_TRUE(linked_in(agent_holder, held)) << tlsup_ko << i;
		}
		// One the agent does not hold still gets a holder.
		RequestKeyring theirs = accept(other);
		EXPECT_EQ(theirs.keyring(), other);
		EXPECT_FALSE(linked_in(KEY_SPEC_PROCESS_KEYRING, other));
		EXPECT_EQ(keyring_contents(keyrings->holders()).value().size(), 1u) << tlsup_ko;
		theirs.release();
		keyctl_unlink(held, KEY_SPEC_PROCESS_KEYRING);
		keyctl_invalidate(other);
		keyctl_invalidate(held);
		keyctl_invalidate(agent_holder);
		keyctl_invalidate(keyrings->holders());
	}
}

// On tlsup.ko a held keyring stays in the process keyring only while the
// agent holds it: once a reload (or the trust check) drops it from
// tlsupd:linked, the next ACCEPT's window takes it out -- and the request
// whose ACCEPT names it then gets it in a holder of its own, as any
// keyring the agent does not hold.
TEST(RequestKeyringHeldByAgentTest, LeavesTheProcessKeyringOnceTheAgentLetsGo) {
	ASSERT_TRUE(ensure_process_keyring().ok());
	for (bool named_again : {false, true}) {
		CaptureLog log;
		key_serial_t held = add_keyring("held, then dropped", KEY_SPEC_SESSION_KEYRING);
		key_serial_t other = add_keyring("another consumer's", KEY_SPEC_SESSION_KEYRING);
		KeyringStore store;
		LinkedKeyrings linked;
		linked.consumer.push_back(held);
		store.replace(linked);
		auto keyrings = AcceptKeyrings::create(log.log(), true, &store).value();
		auto accept = [&](key_serial_t ring) {
			auto window = keyrings->open_window();
			EXPECT_EQ(keyctl_link(ring, KEY_SPEC_PROCESS_KEYRING), 0);
			return window.claim(ring);
		};
		accept(held).release();
		ASSERT_TRUE(linked_in(KEY_SPEC_PROCESS_KEYRING, held));
		store.replace(LinkedKeyrings{}); // a reload without it
		RequestKeyring next = accept(named_again ? held : other);
		EXPECT_FALSE(linked_in(KEY_SPEC_PROCESS_KEYRING, held)) << named_again;
		EXPECT_FALSE(linked_in(KEY_SPEC_PROCESS_KEYRING, other)) << named_again;
		auto holders = keyring_contents(keyrings->holders()).value();
		ASSERT_EQ(holders.size(), 1u) << named_again;
		EXPECT_TRUE(linked_in(holders[0], named_again ? held : other)) << named_again;
		EXPECT_FALSE(log.contains("cannot")) << ::testing::PrintToString(log.lines());
		next.release();
		keyctl_invalidate(other);
		keyctl_invalidate(held);
		keyctl_invalidate(keyrings->holders());
	}
}

} // namespace
} // namespace tlsup::test
