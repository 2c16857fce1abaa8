// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: every allocation of every consumer call, ACCEPT and DONE fails in
 * turn. For n = 1, 2, ... the n-th fault-injection point the calling task
 * reaches fails (current->fail_nth, what writing n to
 * /proc/thread-self/fail-nth sets), until the operation runs to its end
 * without one. Each failure must be a clean negative errno (no callback,
 * the socket as the consumer gave it) or a request that still completes
 * exactly once; nothing may be left on a list, linked or referenced, and
 * the guest's kmemleak scan afterwards must find nothing of tlsup's.
 *
 * Needs CONFIG_FAULT_INJECTION and FAILSLAB/FAIL_PAGE_ALLOC told to fail
 * sleeping allocations too (tests/kunit/guest.sh sets ignore-gfp-wait to
 * N): the debug flavour. ACCEPT and DONE run in the sending task, so the
 * harness's own netlink send is swept too; its failures are clean errors
 * before tlsup is reached.
 */

#include <linux/key.h>
#include <linux/keyctl.h>
#include <linux/key-type.h>
#include <linux/sched.h>
#include <uapi/linux/keyctl.h>

#include "harness.h"
#include "suites.h"

#if IS_ENABLED(CONFIG_FAULT_INJECTION)

#define KT_SWEEP_MAX 48

static void kt_fail_nth(unsigned int n)
{
	WRITE_ONCE(current->fail_nth, n);
}

/* Disarms; true if the armed failure was injected. */
static bool kt_fail_injected(void)
{
	bool injected = READ_ONCE(current->fail_nth) == 0;

	WRITE_ONCE(current->fail_nth, 0);
	return injected;
}

/*
 * After the swept operation: the request either completes or is cancelled,
 * exactly once in all, and nothing of it stays.
 */
static void kt_settle(struct kunit *test, struct kt_agent *agent,
		      struct kt_consumer *c, bool submitted)
{
	struct tlsup_stats st;
	bool cancelled = false;

	if (submitted && !atomic_read(&c->calls)) {
		cancelled = tls_handshake_cancel(c->sock->sk);
		if (!cancelled)
			KUNIT_EXPECT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
	}
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls) + cancelled,
			submitted ? 1 : 0);
	kt_close_consumer(c);
	kt_drain_ready(agent);
	kt_stats(&init_net, &st);
	KUNIT_EXPECT_EQ(test, st.pending, 0U);
	KUNIT_EXPECT_EQ(test, st.inflight, 0U);
}

typedef int (*kt_hello_fn)(const struct tls_handshake_args *args, gfp_t flags);

static void kt_sweep_hello(struct kunit *test, const char *name,
			   kt_hello_fn hello, bool psk)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	int n, failed = 0;

	for (n = 1; n <= KT_SWEEP_MAX; n++) {
		struct kt_consumer *c = kt_consumer(test, NULL);
		struct kt_accept acc;
		bool injected;
		int ret;

		if (psk) {
			c->args.ta_num_peerids = 1;
			c->args.ta_my_peerids[0] = 1;
		}
		kt_fail_nth(n);
		ret = hello(&c->args, GFP_KERNEL);
		injected = kt_fail_injected();
		failed += injected;
		if (ret == 0) {
			/* READY may have been lost: ACCEPT polls. */
			KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
			kt_track_fd(test, acc.fd);
			KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
			KUNIT_EXPECT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
			KUNIT_EXPECT_EQ(test, c->status, 0);
		} else {
			KUNIT_EXPECT_TRUE_MSG(test, injected,
					      "%s failed with %d and nothing injected",
					      name, ret);
			KUNIT_EXPECT_TRUE(test, ret == -ENOMEM || ret == -ESRCH);
			KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 0);
			KUNIT_EXPECT_TRUE(test, kt_destructor_is_ours(c));
			KUNIT_EXPECT_EQ(test, kt_sk_refs(c), 1);
		}
		kt_settle(test, agent, c, ret == 0);
		if (!injected)
			break;
	}
	KUNIT_EXPECT_LE_MSG(test, n, KT_SWEEP_MAX, "%s: no run without a failure", name);
	kunit_info(test, "fail-nth: %s: %d allocations failed\n", name, failed);
}

static void failnth_client_hello_anon(struct kunit *test)
{
	kt_sweep_hello(test, "tls_client_hello_anon", tls_client_hello_anon, false);
}

static void failnth_client_hello_x509(struct kunit *test)
{
	kt_sweep_hello(test, "tls_client_hello_x509", tls_client_hello_x509, false);
}

static void failnth_client_hello_psk(struct kunit *test)
{
	kt_sweep_hello(test, "tls_client_hello_psk", tls_client_hello_psk, true);
}

static void failnth_server_hello_x509(struct kunit *test)
{
	kt_sweep_hello(test, "tls_server_hello_x509", tls_server_hello_x509, false);
}

static void failnth_server_hello_psk(struct kunit *test)
{
	kt_sweep_hello(test, "tls_server_hello_psk", tls_server_hello_psk, true);
}

static bool kt_process_keyring_has(struct key *ring)
{
	key_ref_t process, found;
	bool has;

	process = lookup_user_key(KEY_SPEC_PROCESS_KEYRING, 0, KEY_NEED_SEARCH);
	if (IS_ERR(process))
		return false;
	found = keyring_search(process, &key_type_keyring, ring->description,
			       false);
	has = !IS_ERR(found);
	if (has) {
		key_ref_put(found);
		key_unlink(key_ref_to_ptr(process), ring);
	}
	key_ref_put(process);
	return has;
}

/* ACCEPT with a consumer keyring: reserve, link, reply, install. */
static void failnth_accept(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	int n, failed = 0;
	struct key *ring;

	ring = keyring_alloc("tlsup-failnth-ring", GLOBAL_ROOT_UID,
			     GLOBAL_ROOT_GID, current_cred(),
			     KEY_POS_ALL | KEY_USR_ALL, KEY_ALLOC_NOT_IN_QUOTA,
			     NULL, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ring);
	for (n = 1; n <= KT_SWEEP_MAX; n++) {
		struct kt_consumer *c = kt_consumer(test, NULL);
		struct kt_accept acc;
		bool injected, linked;
		int ret;

		c->args.ta_keyring = key_serial(ring);
		KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&c->args, GFP_KERNEL), 0);
		kt_drain_ready(agent);
		kt_fail_nth(n);
		ret = kt_accept(agent, &acc);
		injected = kt_fail_injected();
		failed += injected;
		if (acc.fd >= 0)
			kt_track_fd(test, acc.fd);
		if (ret == 0) {
			KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
			KUNIT_EXPECT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
		} else {
			KUNIT_EXPECT_TRUE(test, injected);
		}
		linked = kt_process_keyring_has(ring);
		/* A request ACCEPT gave up on is completed with -EIO, unlinked. */
		if (atomic_read(&c->calls) && c->status == -EIO)
			KUNIT_EXPECT_FALSE_MSG(test, linked,
					       "failed ACCEPT left the keyring linked (n=%d)", n);
		kt_settle(test, agent, c, true);
		if (!injected)
			break;
	}
	key_put(ring);
	KUNIT_EXPECT_LE(test, n, KT_SWEEP_MAX);
	kunit_info(test, "fail-nth: ACCEPT: %d allocations failed\n", failed);
}

static void failnth_done(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	const u32 remote[2] = { 7, 8 };
	int n, failed = 0;

	for (n = 1; n <= KT_SWEEP_MAX; n++) {
		struct kt_consumer *c = kt_consumer(test, NULL);
		struct kt_accept acc;
		bool injected;
		int ret;

		KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
		KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
		kt_track_fd(test, acc.fd);
		kt_fail_nth(n);
		ret = kt_done(agent, acc.fd, 0, remote, 2);
		injected = kt_fail_injected();
		failed += injected;
		if (ret) {
			KUNIT_EXPECT_TRUE(test, injected);
			/* A DONE that failed changed nothing; a later one works. */
			if (!atomic_read(&c->calls))
				KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
		}
		KUNIT_EXPECT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
		kt_settle(test, agent, c, true);
		if (!injected)
			break;
	}
	KUNIT_EXPECT_LE(test, n, KT_SWEEP_MAX);
	kunit_info(test, "fail-nth: DONE: %d allocations failed\n", failed);
}

static struct kunit_case failnth_cases[] = {
	KUNIT_CASE(failnth_client_hello_anon),
	KUNIT_CASE(failnth_client_hello_x509),
	KUNIT_CASE(failnth_client_hello_psk),
	KUNIT_CASE(failnth_server_hello_x509),
	KUNIT_CASE(failnth_server_hello_psk),
	KUNIT_CASE(failnth_accept),
	KUNIT_CASE(failnth_done),
	{}
};

struct kunit_suite tlsup_failnth_suite = {
	.name = "tlsup_failnth",
	.init = kt_init,
	.exit = kt_exit,
	.test_cases = failnth_cases,
};

#endif /* CONFIG_FAULT_INJECTION */
