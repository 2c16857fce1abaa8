// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit harness: counting tlsup's tracepoints with probes of our own.
 */

#include <linux/tracepoint.h>

#include "harness.h"
#include "../../kernel/shim/trace.h"

#define KT_REQ_PROBE(name, field)					\
static void kt_probe_##name(void *data, const struct sock *sk, u64 req, \
			    int arg)					\
{									\
	atomic_inc(&((struct kt_probes *)data)->field);			\
}

KT_REQ_PROBE(submit, submit)
KT_REQ_PROBE(complete, complete)
KT_REQ_PROBE(cancel, cancel)
KT_REQ_PROBE(accept, accept)
KT_REQ_PROBE(done, done)
KT_REQ_PROBE(destruct, destruct)
KT_REQ_PROBE(expire, expire)

static void kt_probe_alert_send(void *data, const struct sock *sk, u8 level,
				u8 description)
{
	atomic_inc(&((struct kt_probes *)data)->alert_send);
}

struct kt_probes *kt_probes_start(struct kunit *test)
{
	struct kt_probes *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, register_trace_handshake_submit(kt_probe_submit, p), 0);
	KUNIT_ASSERT_EQ(test, register_trace_handshake_complete(kt_probe_complete, p), 0);
	KUNIT_ASSERT_EQ(test, register_trace_handshake_cancel(kt_probe_cancel, p), 0);
	KUNIT_ASSERT_EQ(test, register_trace_handshake_cmd_accept(kt_probe_accept, p), 0);
	KUNIT_ASSERT_EQ(test, register_trace_handshake_cmd_done(kt_probe_done, p), 0);
	KUNIT_ASSERT_EQ(test, register_trace_handshake_destruct(kt_probe_destruct, p), 0);
	KUNIT_ASSERT_EQ(test, register_trace_handshake_expire(kt_probe_expire, p), 0);
	KUNIT_ASSERT_EQ(test, register_trace_tls_alert_send(kt_probe_alert_send, p), 0);
	kt_ctx(test)->probes = p;
	return p;
}

void kt_probes_stop(struct kunit *test)
{
	struct kt_probes *p = kt_ctx(test)->probes;

	if (!p)
		return;
	unregister_trace_handshake_submit(kt_probe_submit, p);
	unregister_trace_handshake_complete(kt_probe_complete, p);
	unregister_trace_handshake_cancel(kt_probe_cancel, p);
	unregister_trace_handshake_cmd_accept(kt_probe_accept, p);
	unregister_trace_handshake_cmd_done(kt_probe_done, p);
	unregister_trace_handshake_destruct(kt_probe_destruct, p);
	unregister_trace_handshake_expire(kt_probe_expire, p);
	unregister_trace_tls_alert_send(kt_probe_alert_send, p);
	tracepoint_synchronize_unregister();
	kt_ctx(test)->probes = NULL;
}
