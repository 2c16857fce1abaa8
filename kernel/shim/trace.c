// SPDX-License-Identifier: GPL-2.0
/*
 * Tracepoint definitions, and the core's single entry into them.
 */

#include <linux/module.h>
#include <net/sock.h>

#include "shim.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

typedef void (*tlsup_tracer_t)(const struct sock *sk, u64 req, int arg);

static const tlsup_tracer_t tlsup_tracers[] = {
	[TLSUP_TRACE_SUBMIT] = trace_handshake_submit,
	[TLSUP_TRACE_SUBMIT_ERR] = trace_handshake_submit_err,
	[TLSUP_TRACE_CANCEL] = trace_handshake_cancel,
	[TLSUP_TRACE_CANCEL_NONE] = trace_handshake_cancel_none,
	[TLSUP_TRACE_CANCEL_BUSY] = trace_handshake_cancel_busy,
	[TLSUP_TRACE_DESTRUCT] = trace_handshake_destruct,
	[TLSUP_TRACE_COMPLETE] = trace_handshake_complete,
	[TLSUP_TRACE_NOTIFY_ERR] = trace_handshake_notify_err,
	[TLSUP_TRACE_CMD_ACCEPT] = trace_handshake_cmd_accept,
	[TLSUP_TRACE_CMD_ACCEPT_ERR] = trace_handshake_cmd_accept_err,
	[TLSUP_TRACE_CMD_DONE] = trace_handshake_cmd_done,
	[TLSUP_TRACE_CMD_DONE_ERR] = trace_handshake_cmd_done_err,
	[TLSUP_TRACE_EXPIRE] = trace_handshake_expire,
};

void tlsup_shim_trace(enum tlsup_trace_event ev, struct tlsup_ksock *sk,
		      unsigned long long req_id, int arg)
{
	if (ev < ARRAY_SIZE(tlsup_tracers) && tlsup_tracers[ev])
		tlsup_tracers[ev](from_ksock(sk), req_id, arg);
}

/* For the KUnit suites, which count events with probes of their own. */
EXPORT_TRACEPOINT_SYMBOL_GPL(handshake_submit);
EXPORT_TRACEPOINT_SYMBOL_GPL(handshake_submit_err);
EXPORT_TRACEPOINT_SYMBOL_GPL(handshake_cancel);
EXPORT_TRACEPOINT_SYMBOL_GPL(handshake_complete);
EXPORT_TRACEPOINT_SYMBOL_GPL(handshake_cmd_accept);
EXPORT_TRACEPOINT_SYMBOL_GPL(handshake_cmd_done);
EXPORT_TRACEPOINT_SYMBOL_GPL(handshake_destruct);
EXPORT_TRACEPOINT_SYMBOL_GPL(handshake_expire);
EXPORT_TRACEPOINT_SYMBOL_GPL(tls_alert_send);
