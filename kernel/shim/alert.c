// SPDX-License-Identifier: GPL-2.0
/*
 * TLS record types and alerts on kTLS sockets, for consumers: the parts of
 * upstream's net/handshake/alert.c that 6.1 lacks.
 */

#include <linux/module.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <uapi/linux/tls.h>

#include "shim.h"
#if TLSUP_KERNEL_HAS_HANDSHAKE_H
#include <net/handshake.h>
#include <net/tls_prot.h>
#else
#include "../../include/net/handshake.h"
#endif
#include "trace.h"

/**
 * tlsup_alert_send - send a TLS alert record on a kTLS socket
 * @sock: socket with the TLS ULP and TX keys installed
 * @level: TLS_ALERT_LEVEL_*
 * @description: TLS_ALERT_DESC_*
 *
 * Context: process; does not block (MSG_DONTWAIT).
 * Return: 0 or a negative errno from sock_sendmsg().
 */
int tlsup_alert_send(struct socket *sock, u8 level, u8 description)
{
	u8 record_type = TLS_RECORD_TYPE_ALERT;
	u8 buf[CMSG_SPACE(sizeof(record_type))];
	struct msghdr msg = { 0 };
	struct cmsghdr *cmsg;
	struct kvec iov;
	u8 alert[2];
	int ret;

	trace_tls_alert_send(sock->sk, level, description);

	alert[0] = level;
	alert[1] = description;
	iov.iov_base = alert;
	iov.iov_len = sizeof(alert);

	memset(buf, 0, sizeof(buf));
	msg.msg_control = buf;
	msg.msg_controllen = sizeof(buf);
	msg.msg_flags = MSG_DONTWAIT;

	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(sizeof(record_type));
	memcpy(CMSG_DATA(cmsg), &record_type, sizeof(record_type));

	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, &iov, 1, iov.iov_len);
	ret = sock_sendmsg(sock, &msg);
	return ret < 0 ? ret : 0;
}

/**
 * tls_get_record_type - the TLS record type a received control message names
 * @sk: the receiving socket (for tracing)
 * @cmsg: a control message from kernel_recvmsg() on a kTLS socket
 *
 * Context: any.
 * Return: TLS_RECORD_TYPE_* from a SOL_TLS/TLS_GET_RECORD_TYPE message, or 0
 * for any other control message.
 */
u8 tls_get_record_type(const struct sock *sk, const struct cmsghdr *cmsg)
{
	u8 record_type;

	if (cmsg->cmsg_level != SOL_TLS ||
	    cmsg->cmsg_type != TLS_GET_RECORD_TYPE ||
	    cmsg->cmsg_len < CMSG_LEN(sizeof(record_type)))
		return 0;
	record_type = *((u8 *)CMSG_DATA(cmsg));
	trace_tls_contenttype(sk, record_type);
	return record_type;
}
EXPORT_SYMBOL(tls_get_record_type);

/**
 * tls_alert_recv - decode a received TLS alert record
 * @sk: the receiving socket (for tracing)
 * @msg: the message an alert record was received into, with a kvec
 *	 iterator: either positioned at the alert, or as the receive left it
 *	 (advanced past the two alert bytes, possibly past its last segment)
 * @level: OUT: TLS_ALERT_LEVEL_*
 * @description: OUT: TLS_ALERT_DESC_*
 *
 * Like upstream, the alert is read from the start of the segment the
 * iterator is in. A receive that filled its buffer exactly leaves the
 * iterator past its last segment (nr_segs 0); upstream then reads past the
 * caller's kvec array, here the segment just consumed is read instead.
 *
 * Context: any.
 * Return: nothing; a message that cannot hold an alert yields level and
 * description 0.
 */
void tls_alert_recv(const struct sock *sk, const struct msghdr *msg,
		    u8 *level, u8 *description)
{
	const struct iov_iter *it = &msg->msg_iter;
	const struct kvec *seg;
	const u8 *data;

	*level = 0;
	*description = 0;
	if (!iov_iter_is_kvec(it) || !it->kvec)
		return;
	/* nr_segs 0: every segment was consumed; the last one is behind. */
	seg = it->nr_segs ? it->kvec : it->kvec - 1;
	if (!seg->iov_base || seg->iov_len < 2)
		return;
	data = seg->iov_base;
	*level = data[0];
	*description = data[1];
	trace_tls_alert_recv(sk, *level, *description);
}
EXPORT_SYMBOL(tls_alert_recv);
