// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the kernel-side deadline (DESIGN §2.8) and namespace exit (§2.6).
 */

#include <linux/delay.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <net/net_namespace.h>

#include "harness.h"
#include "suites.h"

/*
 * The guest script starts a process alone in a fresh network namespace and
 * writes its pid here; the namespace goes away when the case kills it. (A
 * module parameter would not do: 6.1 runs a module's suites before it
 * parses the module's parameters.)
 */

static void deadline_expires_pending_request(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_probes *p = kt_probes_start(test);
	unsigned long start = jiffies;
	struct tlsup_stats st;
	struct kt_accept acc;
	unsigned int elapsed;

	kt_consumer_args(c, 100);
	KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
	elapsed = jiffies_to_msecs(jiffies - start);
	KUNIT_EXPECT_EQ(test, c->status, -ETIMEDOUT);
	/* ta_timeout_ms + 2 s, give or take the work queue's latency. */
	KUNIT_EXPECT_GE(test, elapsed, 2100U - 20);
	KUNIT_EXPECT_LT(test, elapsed, 4000U);
	KUNIT_EXPECT_EQ(test, atomic_read(&p->expire), 1);
	KUNIT_EXPECT_EQ(test, kt_accept(agent, &acc), -EAGAIN);
	kt_stats(&init_net, &st);
	KUNIT_EXPECT_EQ(test, st.expired, 1ULL);
	/* The reaper unpins the socket right after the callback. */
	KUNIT_EXPECT_EQ(test, kt_wait_sk_refs(c, 1, KT_WAIT_MS), 1);
}

static void deadline_expires_accepted_request(struct kunit *test)
{
	/* The agent died after ACCEPT: the consumer is called back anyway. */
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;

	kt_consumer_args(c, 50);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_ASSERT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
	KUNIT_EXPECT_EQ(test, c->status, -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
}

static void deadline_not_armed_without_timeout(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_consumer *t = kt_consumer(test, NULL);

	kt_consumer_args(t, 1);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&t->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_TRUE(test, kt_wait_done(t, KT_WAIT_MS));
	/* The reaper ran and left the request without a deadline alone. */
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 0);
	KUNIT_EXPECT_TRUE(test, tls_handshake_cancel(c->sock->sk));
	kt_drain_ready(agent);
}

static void deadline_versus_done_runs_callback_once(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;

	kt_consumer_args(c, 1);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	msleep(2000);
	kt_done(agent, acc.fd, 0, NULL, 0);
	KUNIT_ASSERT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
	msleep(200);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
	KUNIT_EXPECT_TRUE(test, c->status == 0 || c->status == -ETIMEDOUT);
}

static void notify_listener_in_other_netns_is_esrch(struct kunit *test)
{
	/*
	 * netlink_has_listeners() is global: an agent in another namespace
	 * passes it. The multicast reaches nobody here, so: no agent.
	 */
	struct net *net = kt_test_netns(test);
	struct kt_agent *elsewhere = kt_agent(test, net, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);

	KUNIT_EXPECT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), -ESRCH);
	KUNIT_EXPECT_TRUE(test, kt_destructor_is_ours(c));
	KUNIT_EXPECT_EQ(test, kt_sk_refs(c), 1);
	KUNIT_EXPECT_EQ(test, kt_drain_ready(elsewhere), 0);
	/* Released before the namespace reference goes. */
	kt_forget_agent(elsewhere);
	put_net(net);
}

static void notify_overrun_agent_keeps_request(struct kunit *test)
{
	/*
	 * An agent with NETLINK_BROADCAST_ERROR whose queue is full: the
	 * multicast fails with -ENOBUFS, the request stays queued, and the
	 * agent (which sees the overrun) accepts it.
	 */
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *first = kt_consumer(test, NULL);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;
	struct tlsup_stats st;

	KUNIT_ASSERT_EQ(test, kt_agent_broadcast_error(agent), 0);
	kt_agent_queue_limit(agent, true);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&first->args, GFP_KERNEL), 0);
	/* Its READY is in the queue; this one's overruns it. */
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	kt_agent_queue_limit(agent, false);
	KUNIT_EXPECT_EQ(test, kt_drain_ready(agent), 1);
	KUNIT_EXPECT_EQ(test, agent->overruns, 1);
	kt_stats(&init_net, &st);
	KUNIT_EXPECT_EQ(test, st.pending, 2U);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
}

static void notify_overrun_without_broadcast_error_is_esrch(struct kunit *test)
{
	/* Upstream's agent does not ask for delivery errors: as upstream, ESRCH. */
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *first = kt_consumer(test, NULL);
	struct kt_consumer *c = kt_consumer(test, NULL);

	kt_agent_queue_limit(agent, true);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&first->args, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), -ESRCH);
	KUNIT_EXPECT_TRUE(test, kt_destructor_is_ours(c));
	kt_agent_queue_limit(agent, false);
}

struct kt_netns_release {
	struct kt_consumer *consumers[2];
	struct kt_agent *agent;
	int fd;
	int calls_at_release[2];
	struct completion released;
};

/*
 * From the namespace's cleanup, after tlsup's drain: the test's last
 * references on its sockets in the namespace go now, synchronously.
 */
static void kt_netns_release(void *data)
{
	struct kt_netns_release *r = data;
	int i;

	close_fd(r->fd);
	for (i = 0; i < 2; i++) {
		r->calls_at_release[i] = atomic_read(&r->consumers[i]->calls);
		kt_forget_consumer(r->consumers[i]);
	}
	kt_forget_agent(r->agent);
	flush_delayed_fput();
	complete(&r->released);
}

static void netns_exit_completes_requests(struct kunit *test)
{
	struct kt_consumer *pending, *accepted;
	struct kt_netns_release *r;
	struct task_struct *task;
	struct kt_agent *agent;
	struct kt_accept acc;
	struct net *net;

	int netns_pid = kt_read_int(KT_NETNS_PID_FILE);

	net = kt_test_netns(test);

	/* Kernel sockets do not hold the namespace: only @net and the task do. */
	agent = kt_agent(test, net, true, true);
	pending = kt_consumer(test, net);
	accepted = kt_consumer(test, net);
	/* A deadline: the reaper is armed when the namespace goes. */
	kt_consumer_args(pending, 1000);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&accepted->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&pending->args, GFP_KERNEL), 0);

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	r->consumers[0] = pending;
	r->consumers[1] = accepted;
	r->agent = agent;
	r->fd = acc.fd;
	init_completion(&r->released);
	KUNIT_ASSERT_EQ(test, tlsup_kunit_netns_on_exit(net, kt_netns_release, r), 0);

	rcu_read_lock();
	task = pid_task(find_vpid(netns_pid), PIDTYPE_PID);
	if (task)
		send_sig(SIGKILL, task, 1);
	rcu_read_unlock();
	KUNIT_ASSERT_NOT_NULL(test, task);
	put_net(net);

	/* cleanup_net() runs from a work queue once the task is gone. */
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&r->released,
							    msecs_to_jiffies(KT_WAIT_MS)));
	/* Both were called back, before tlsup's exit returned. */
	KUNIT_EXPECT_EQ(test, r->calls_at_release[0], 1);
	KUNIT_EXPECT_EQ(test, r->calls_at_release[1], 1);
	KUNIT_EXPECT_EQ(test, pending->status, -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, accepted->status, -ETIMEDOUT);
	/* The sockets were released: their destructors chained once. */
	rcu_barrier();
	KUNIT_EXPECT_EQ(test, atomic_read(&pending->destruct_calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&accepted->destruct_calls), 1);
	/*
	 * The pending request's deadline would have come by now: a reaper
	 * left armed at exit would run on the namespace's freed memory
	 * (KASAN, or a fault on SLUB's poison, on the console).
	 */
	msleep(1000 + TLSUP_DEADLINE_GRACE_MS + 500);
}

static struct kunit_case lifecycle_cases[] = {
	KUNIT_CASE(deadline_expires_pending_request),
	KUNIT_CASE(deadline_expires_accepted_request),
	KUNIT_CASE(deadline_not_armed_without_timeout),
	KUNIT_CASE(deadline_versus_done_runs_callback_once),
	KUNIT_CASE(notify_listener_in_other_netns_is_esrch),
	KUNIT_CASE(notify_overrun_agent_keeps_request),
	KUNIT_CASE(notify_overrun_without_broadcast_error_is_esrch),
	KUNIT_CASE(netns_exit_completes_requests),
	{}
};

struct kunit_suite tlsup_lifecycle_suite = {
	.name = "tlsup_lifecycle",
	.init = kt_init,
	.exit = kt_exit,
	.test_cases = lifecycle_cases,
};
