/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the handshake service, named like upstream's
 * (include/trace/events/handshake.h) so existing tooling finds them.
 * Requests are identified by their per-namespace id, never by address.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM handshake

#if !defined(_TLSUP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TLSUP_TRACE_H

#include <linux/tracepoint.h>
#include <net/sock.h>

DECLARE_EVENT_CLASS(tlsup_req_class,
	TP_PROTO(const struct sock *sk, u64 req, int arg),
	TP_ARGS(sk, req, arg),
	TP_STRUCT__entry(
		__field(unsigned int, netns_ino)
		__field(u64, req)
		__field(const void *, sk)
		__field(int, arg)
	),
	TP_fast_assign(
		__entry->netns_ino = sk ? sock_net(sk)->ns.inum : 0;
		__entry->req = req;
		__entry->sk = sk;
		__entry->arg = arg;
	),
	TP_printk("netns=%u req=%llu sk=%p arg=%d",
		  __entry->netns_ino, __entry->req, __entry->sk, __entry->arg)
);

#define DEFINE_TLSUP_EVENT(name)				\
	DEFINE_EVENT(tlsup_req_class, name,			\
		TP_PROTO(const struct sock *sk, u64 req, int arg),	\
		TP_ARGS(sk, req, arg))

DEFINE_TLSUP_EVENT(handshake_submit);
DEFINE_TLSUP_EVENT(handshake_submit_err);
DEFINE_TLSUP_EVENT(handshake_cancel);
DEFINE_TLSUP_EVENT(handshake_cancel_none);
DEFINE_TLSUP_EVENT(handshake_cancel_busy);
DEFINE_TLSUP_EVENT(handshake_destruct);
DEFINE_TLSUP_EVENT(handshake_complete);
DEFINE_TLSUP_EVENT(handshake_notify_err);
DEFINE_TLSUP_EVENT(handshake_cmd_accept);
DEFINE_TLSUP_EVENT(handshake_cmd_accept_err);
DEFINE_TLSUP_EVENT(handshake_cmd_done);
DEFINE_TLSUP_EVENT(handshake_cmd_done_err);
DEFINE_TLSUP_EVENT(handshake_expire);

DECLARE_EVENT_CLASS(tlsup_alert_class,
	TP_PROTO(const struct sock *sk, u8 level, u8 description),
	TP_ARGS(sk, level, description),
	TP_STRUCT__entry(
		__field(const void *, sk)
		__field(u8, level)
		__field(u8, description)
	),
	TP_fast_assign(
		__entry->sk = sk;
		__entry->level = level;
		__entry->description = description;
	),
	TP_printk("sk=%p level=%u description=%u",
		  __entry->sk, __entry->level, __entry->description)
);

DEFINE_EVENT(tlsup_alert_class, tls_alert_send,
	TP_PROTO(const struct sock *sk, u8 level, u8 description),
	TP_ARGS(sk, level, description));
DEFINE_EVENT(tlsup_alert_class, tls_alert_recv,
	TP_PROTO(const struct sock *sk, u8 level, u8 description),
	TP_ARGS(sk, level, description));

TRACE_EVENT(tls_contenttype,
	TP_PROTO(const struct sock *sk, unsigned char type),
	TP_ARGS(sk, type),
	TP_STRUCT__entry(
		__field(const void *, sk)
		__field(unsigned char, type)
	),
	TP_fast_assign(
		__entry->sk = sk;
		__entry->type = type;
	),
	TP_printk("sk=%p type=%u", __entry->sk, __entry->type)
);

#endif /* _TLSUP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
