// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: exactly-once when cancel, DONE, ACCEPT, the deadline and submit
 * meet, from several kernel threads, many rounds (DESIGN §2.1, §2.5).
 *
 * Serial orders only: UML is uniprocessor and non-preemptible, so each
 * thread runs to completion and these cases cover the orders the scheduler
 * happens to pick, never an interleaving inside an operation. Interleavings
 * are proven on the host, where the interleaving explorer schedules the
 * competing operations at every shim call (tests/host/core/
 * interleave_test.cpp). What these add: the real kernel objects, on the
 * KASAN/lockdep/kmemleak kernel.
 */

#include <linux/completion.h>
#include <linux/fdtable.h>
#include <linux/delay.h>
#include <linux/kthread.h>

#include "harness.h"
#include "suites.h"

#define KT_ROUNDS 150

struct kt_racer {
	struct completion *go;
	struct kt_agent *agent;
	struct kt_consumer *c;
	int fd;
	int result;
	struct completion finished;
};

static int kt_serial_cancel(void *data)
{
	struct kt_racer *r = data;

	wait_for_completion(r->go);
	r->result = tls_handshake_cancel(r->c->sock->sk);
	complete(&r->finished);
	return 0;
}

static int kt_serial_done(void *data)
{
	struct kt_racer *r = data;

	wait_for_completion(r->go);
	r->result = kt_done(r->agent, r->fd, 0, NULL, 0);
	complete(&r->finished);
	return 0;
}

static int kt_serial_accept(void *data)
{
	struct kt_racer *r = data;
	struct kt_accept acc;

	wait_for_completion(r->go);
	r->result = kt_accept(r->agent, &acc);
	r->fd = r->result == 0 ? acc.fd : -1;
	complete(&r->finished);
	return 0;
}

static void kt_start(struct kunit *test, int (*fn)(void *), struct kt_racer *r)
{
	struct task_struct *t;

	init_completion(&r->finished);
	t = kthread_run(fn, r, "tlsup-race");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
}

static void serial_cancel_versus_done(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_agent *agent2 = kt_agent(test, NULL, true, false);
	int round, cancels = 0, callbacks = 0;

	for (round = 0; round < KT_ROUNDS; round++) {
		struct kt_racer rc = {}, rd = {};
		DECLARE_COMPLETION_ONSTACK(go);
		struct kt_consumer *c;
		struct kt_accept acc;

		c = kt_consumer(test, NULL);
		KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
		KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
		rc.go = rd.go = &go;
		rc.c = c;
		rd.agent = agent2;
		rd.fd = acc.fd;
		kt_start(test, kt_serial_cancel, &rc);
		kt_start(test, kt_serial_done, &rd);
		complete_all(&go);
		wait_for_completion(&rc.finished);
		wait_for_completion(&rd.finished);

		KUNIT_ASSERT_EQ(test, rd.result, 0);
		KUNIT_ASSERT_LE(test, atomic_read(&c->calls), 1);
		/* Never both, never neither. */
		KUNIT_ASSERT_NE(test, rc.result, atomic_read(&c->calls));
		KUNIT_ASSERT_EQ(test, kt_sk_refs(c), 1);
		cancels += rc.result;
		callbacks += atomic_read(&c->calls);
		close_fd(acc.fd);
		/* Recycle the slot: this consumer is finished. */
		kt_forget_consumer(c);
		kt_ctx(test)->num_consumers--;
		flush_delayed_fput();
		rcu_barrier();
		KUNIT_ASSERT_EQ(test, atomic_read(&c->destruct_calls), 1);
		kt_drain_ready(agent);
	}
	kunit_info(test, "%d rounds: cancel won %d, DONE won %d", KT_ROUNDS,
		   cancels, callbacks);
}

static void serial_cancel_versus_accept(struct kunit *test)
{
	/* Upstream bug class: accept's file reference vs. a concurrent cancel. */
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	int round, handed_out = 0;

	for (round = 0; round < KT_ROUNDS; round++) {
		struct kt_racer rc = {}, ra = {};
		DECLARE_COMPLETION_ONSTACK(go);
		struct kt_consumer *c = kt_consumer(test, NULL);

		KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
		rc.go = ra.go = &go;
		rc.c = c;
		ra.agent = agent;
		kt_start(test, kt_serial_cancel, &rc);
		kt_start(test, kt_serial_accept, &ra);
		complete_all(&go);
		wait_for_completion(&rc.finished);
		wait_for_completion(&ra.finished);

		KUNIT_ASSERT_EQ(test, rc.result, 1);
		if (ra.result == 0) {
			struct file *f = fget(ra.fd);

			/* The handed-out fd is the consumer's, still alive. */
			KUNIT_ASSERT_PTR_EQ(test, f, c->file);
			fput(f);
			KUNIT_ASSERT_EQ(test, kt_done(agent, ra.fd, 0, NULL, 0), 0);
			close_fd(ra.fd);
			handed_out++;
		} else {
			KUNIT_ASSERT_EQ(test, ra.result, -EAGAIN);
		}
		KUNIT_ASSERT_EQ(test, atomic_read(&c->calls), 0);
		kt_forget_consumer(c);
		kt_ctx(test)->num_consumers--;
		flush_delayed_fput();
		rcu_barrier();
		KUNIT_ASSERT_EQ(test, atomic_read(&c->destruct_calls), 1);
	}
	kunit_info(test, "%d rounds: ACCEPT got the socket in %d", KT_ROUNDS,
		   handed_out);
}

struct kt_agent_loop {
	struct kt_agent *agent;
	atomic_t *stop;
	int completed;
	struct completion finished;
};

static int kt_agent_loop(void *data)
{
	struct kt_agent_loop *l = data;
	struct kt_accept acc;

	while (!atomic_read(l->stop)) {
		if (kt_accept(l->agent, &acc) == 0) {
			kt_done(l->agent, acc.fd, 0, NULL, 0);
			close_fd(acc.fd);
			l->completed++;
		} else {
			cond_resched();
		}
	}
	complete(&l->finished);
	return 0;
}

static void serial_agent_completes_while_submitting(struct kunit *test)
{
	/* Upstream bug class: the sock must be pinned before it is published. */
	struct kt_agent *listener = kt_agent(test, NULL, true, true);
	struct kt_agent_loop loop = {};
	struct task_struct *t;
	atomic_t stop = ATOMIC_INIT(0);
	int i, submitted = 0;

	loop.agent = kt_agent(test, NULL, true, false);
	loop.stop = &stop;
	init_completion(&loop.finished);
	t = kthread_run(kt_agent_loop, &loop, "tlsup-agent");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));

	for (i = 0; i < KT_MAX_CONSUMERS - 1; i++) {
		struct kt_consumer *c = kt_consumer(test, NULL);
		int ret;

		do {
			ret = tls_client_hello_anon(&c->args, GFP_KERNEL);
			if (ret == -EAGAIN)
				usleep_range(100, 200);
		} while (ret == -EAGAIN);
		KUNIT_EXPECT_EQ(test, ret, 0);
		submitted += ret == 0;
		kt_drain_ready(listener);
	}
	for (i = 0; i < 500 && loop.completed < submitted; i++)
		usleep_range(10000, 20000);
	atomic_set(&stop, 1);
	wait_for_completion(&loop.finished);
	KUNIT_EXPECT_EQ(test, loop.completed, submitted);
	for (i = 0; i < kt_ctx(test)->num_consumers; i++) {
		struct kt_consumer *c = kt_ctx(test)->consumers[i];

		KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
		KUNIT_EXPECT_EQ(test, c->status, 0);
		KUNIT_EXPECT_EQ(test, kt_sk_refs(c), 1);
	}
}

struct kt_sweep {
	struct completion *go;
	struct kt_agent *agent;
	struct kt_consumer **c;
	int *fd;
	int n;
	bool reverse;
	int cancels;
	struct completion finished;
};

/* DONE for every accepted request, in order. */
static int kt_sweep_done(void *data)
{
	struct kt_sweep *w = data;
	int i;

	wait_for_completion(w->go);
	for (i = 0; i < w->n; i++)
		kt_done(w->agent, w->fd[i], 0, NULL, 0);
	complete(&w->finished);
	return 0;
}

/* Cancel every request, from the other end. */
static int kt_sweep_cancel(void *data)
{
	struct kt_sweep *w = data;
	int i;

	wait_for_completion(w->go);
	for (i = w->n - 1; i >= 0; i--)
		w->cancels += tls_handshake_cancel(w->c[i]->sock->sk);
	complete(&w->finished);
	return 0;
}

static void serial_deadline_versus_done_versus_cancel(struct kunit *test)
{
	/*
	 * 60 accepted requests whose kernel deadlines expire together, while
	 * one thread sends DONE for each and another cancels each: every
	 * request ends exactly once.
	 */
	enum { N = KT_MAX_CONSUMERS - 4 };
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_sweep done = {}, cancel = {};
	DECLARE_COMPLETION_ONSTACK(go);
	struct kt_consumer **c;
	struct tlsup_stats before, after;
	struct task_struct *t;
	unsigned long first = 0;
	int *fd, i, callbacks = 0;

	c = kunit_kcalloc(test, N, sizeof(*c), GFP_KERNEL);
	fd = kunit_kcalloc(test, N, sizeof(*fd), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_ASSERT_NOT_NULL(test, fd);
	kt_stats(&init_net, &before);
	for (i = 0; i < N; i++) {
		struct kt_accept acc;

		c[i] = kt_consumer(test, NULL);
		kt_consumer_args(c[i], 1);
		if (!i)
			first = jiffies;
		/* Accepted as they come: max_pending stays out of the way. */
		KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c[i]->args, GFP_KERNEL), 0);
		KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
		fd[i] = acc.fd;
	}
	kt_drain_ready(agent);
	done = (struct kt_sweep){ .go = &go, .agent = agent, .c = c, .fd = fd, .n = N };
	cancel = (struct kt_sweep){ .go = &go, .c = c, .n = N };
	init_completion(&done.finished);
	init_completion(&cancel.finished);
	t = kthread_run(kt_sweep_done, &done, "tlsup-done");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	t = kthread_run(kt_sweep_cancel, &cancel, "tlsup-cancel");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	/*
	 * Deadlines are 1 ms + 2 s after each submit: start the sweeps just
	 * before the first one, so the reaper expires requests while they run.
	 */
	if (time_before(jiffies, first + msecs_to_jiffies(1990)))
		schedule_timeout_uninterruptible(first + msecs_to_jiffies(1990) - jiffies);
	complete_all(&go);
	wait_for_completion(&done.finished);
	wait_for_completion(&cancel.finished);
	msleep(500);	/* let a reaper run that started late finish */

	for (i = 0; i < N; i++) {
		int calls = atomic_read(&c[i]->calls);

		KUNIT_ASSERT_LE(test, calls, 1);
		callbacks += calls;
		KUNIT_ASSERT_EQ(test, kt_sk_refs(c[i]), 1);
	}
	KUNIT_EXPECT_EQ(test, callbacks + cancel.cancels, (int)N);
	kt_stats(&init_net, &after);
	KUNIT_EXPECT_EQ(test, after.inflight, 0U);
	KUNIT_EXPECT_EQ(test, (after.completed - before.completed) +
			(after.cancelled - before.cancelled), (unsigned long long)N);
	kunit_info(test, "%d requests: %d by DONE or deadline (%llu expired), %d cancelled",
		   N, callbacks, after.expired - before.expired, cancel.cancels);
}

static struct kunit_case serial_cases[] = {
	KUNIT_CASE(serial_cancel_versus_done),
	KUNIT_CASE(serial_cancel_versus_accept),
	KUNIT_CASE(serial_agent_completes_while_submitting),
	KUNIT_CASE(serial_deadline_versus_done_versus_cancel),
	{}
};

struct kunit_suite tlsup_serial_suite = {
	.name = "tlsup_serial",
	.init = kt_init,
	.exit = kt_exit,
	.test_cases = serial_cases,
};
