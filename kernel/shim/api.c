// SPDX-License-Identifier: GPL-2.0
/*
 * The consumer API of <net/handshake.h>: translate tls_handshake_args for
 * the core, and back.
 */

#include <linux/module.h>
#include <linux/net.h>
#include <linux/string.h>
#include <net/sock.h>

#include "shim.h"
#if TLSUP_KERNEL_HAS_HANDSHAKE_H
#include <net/handshake.h>
#include <net/tls_prot.h>
#else
#include "../../include/net/handshake.h"
#endif
#include "../../include/uapi/linux/handshake.h"

static int tlsup_hello(const struct tls_handshake_args *args, gfp_t flags,
		       unsigned int msg_type, unsigned int auth_mode)
{
	struct socket *sock = args ? args->ta_sock : NULL;
	struct tlsup_submit s = {
		.has_sock = sock,
		.sk = sock ? to_ksock(sock->sk) : NULL,
		.file = sock ? to_kfile(sock->file) : NULL,
		.msg_type = msg_type,
		.auth_mode = auth_mode,
	};
	struct tlsup_core_pernet *core;

	/* The namespace comes from the sock: without one, nothing to check. */
	if (!args || !sock || !sock->sk)
		return -EINVAL;
	s.done = args->ta_done;
	s.data = args->ta_data;
	s.peername = args->ta_peername;
	s.timeout_ms = args->ta_timeout_ms;
	s.keyring = args->ta_keyring;
	s.cert = args->ta_my_cert;
	s.privkey = args->ta_my_privkey;
	s.num_peerids = args->ta_num_peerids;
	BUILD_BUG_ON(sizeof(s.peerids) != sizeof(args->ta_my_peerids));
	memcpy(s.peerids, args->ta_my_peerids, sizeof(s.peerids));
	core = tlsup_pernet_get(sock_net(sock->sk));
	if (!core)
		return -EOPNOTSUPP;
	/* Consumes the reference. */
	return tlsup_core_submit(core, &s, (__force unsigned int)flags);
}

/**
 * tls_client_hello_anon - request an anonymous client TLS handshake
 * @args: socket and handshake parameters; the consumer holds a reference on
 *	  @args->ta_sock and its file for the whole call
 * @flags: allocation flags for the request
 *
 * The agent verifies the server but presents no identity.
 *
 * Context: process or softirq, with @flags allowed there; takes BH-safe
 * spinlocks.
 * Return: 0 when queued: @args->ta_done then runs exactly once unless
 * tls_handshake_cancel() returns true. Otherwise a negative errno and the
 * callback never runs: %-EINVAL (bad @args), %-EBUSY (a request is already
 * pending on the socket), %-EAGAIN (too many un-accepted requests in the
 * namespace), %-ESRCH (no agent listening), %-ENOMEM, %-EOPNOTSUPP (the
 * service is not initialised or the namespace is going away).
 */
int tls_client_hello_anon(const struct tls_handshake_args *args, gfp_t flags)
{
	return tlsup_hello(args, flags, HANDSHAKE_MSG_TYPE_CLIENTHELLO,
			   HANDSHAKE_AUTH_UNAUTH);
}
EXPORT_SYMBOL(tls_client_hello_anon);

/**
 * tls_client_hello_x509 - request an x.509 client TLS handshake
 * @args: as for tls_client_hello_anon(); @args->ta_my_cert and
 *	  @args->ta_my_privkey name the keys holding the client's certificate
 *	  and private key (TLS_NO_CERT/TLS_NO_PRIVKEY: the agent's own)
 * @flags: allocation flags for the request
 *
 * Context: as tls_client_hello_anon().
 * Return: as tls_client_hello_anon().
 */
int tls_client_hello_x509(const struct tls_handshake_args *args, gfp_t flags)
{
	return tlsup_hello(args, flags, HANDSHAKE_MSG_TYPE_CLIENTHELLO,
			   HANDSHAKE_AUTH_X509);
}
EXPORT_SYMBOL(tls_client_hello_x509);

/**
 * tls_client_hello_psk - request a pre-shared-key client TLS handshake
 * @args: as for tls_client_hello_anon(); @args->ta_my_peerids holds
 *	  @args->ta_num_peerids (1 to 5) serials of the PSK keys to offer
 * @flags: allocation flags for the request
 *
 * Context: as tls_client_hello_anon().
 * Return: as tls_client_hello_anon(); %-EINVAL also for 0 or more than 5
 * peer ids.
 */
int tls_client_hello_psk(const struct tls_handshake_args *args, gfp_t flags)
{
	return tlsup_hello(args, flags, HANDSHAKE_MSG_TYPE_CLIENTHELLO,
			   HANDSHAKE_AUTH_PSK);
}
EXPORT_SYMBOL(tls_client_hello_psk);

/**
 * tls_server_hello_x509 - request an x.509 server TLS handshake
 * @args: as for tls_client_hello_x509(); the agent asks the client for a
 *	  certificate and reports a verified one as the callback's peerid
 * @flags: allocation flags for the request
 *
 * Context: as tls_client_hello_anon().
 * Return: as tls_client_hello_anon().
 */
int tls_server_hello_x509(const struct tls_handshake_args *args, gfp_t flags)
{
	return tlsup_hello(args, flags, HANDSHAKE_MSG_TYPE_SERVERHELLO,
			   HANDSHAKE_AUTH_X509);
}
EXPORT_SYMBOL(tls_server_hello_x509);

/**
 * tls_server_hello_psk - request a pre-shared-key server TLS handshake
 * @args: as for tls_client_hello_anon(); @args->ta_my_peerids[0] is sent
 *	  to the agent as the only identity (as upstream), whatever
 *	  @args->ta_num_peerids says
 * @flags: allocation flags for the request
 *
 * Context: as tls_client_hello_anon().
 * Return: as tls_client_hello_anon().
 */
int tls_server_hello_psk(const struct tls_handshake_args *args, gfp_t flags)
{
	return tlsup_hello(args, flags, HANDSHAKE_MSG_TYPE_SERVERHELLO,
			   HANDSHAKE_AUTH_PSK);
}
EXPORT_SYMBOL(tls_server_hello_psk);

/**
 * tls_handshake_cancel - cancel a pending handshake
 * @sk: socket on which the handshake was requested
 *
 * Context: process or softirq; takes BH-safe spinlocks.
 * Return: true if the completion callback will never run (this call or an
 * earlier one cancelled the request); false if it has run or is running
 * now, or if @sk has no request.
 */
bool tls_handshake_cancel(struct sock *sk)
{
	return tlsup_core_cancel(to_ksock(sk));
}
EXPORT_SYMBOL(tls_handshake_cancel);

/**
 * tls_handshake_close - send a close_notify alert
 * @sock: socket whose handshake completed successfully
 *
 * Sends the alert once, and only on a socket whose handshake succeeded.
 *
 * Context: process.
 * Return: nothing.
 */
void tls_handshake_close(struct socket *sock)
{
	if (!sock || !sock->sk)
		return;
	if (!tlsup_core_take_session(to_ksock(sock->sk)))
		return;
	tlsup_alert_send(sock, TLS_ALERT_LEVEL_WARNING,
			 TLS_ALERT_DESC_CLOSE_NOTIFY);
}
EXPORT_SYMBOL(tls_handshake_close);
