/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * The "handshake" generic netlink family, version 1.
 *
 * tlsup keeps these numbers identical to upstream Linux's net/handshake so
 * that either side (module or agent) can be swapped for upstream's. Values
 * are ABI: never renumber, only append.
 */
#ifndef _UAPI_LINUX_HANDSHAKE_H
#define _UAPI_LINUX_HANDSHAKE_H

#define HANDSHAKE_FAMILY_NAME		"handshake"
#define HANDSHAKE_FAMILY_VERSION	1

/* A handler class is also the index of its multicast group. */
enum handshake_handler_class {
	HANDSHAKE_HANDLER_CLASS_NONE,
	HANDSHAKE_HANDLER_CLASS_TLSHD,
	HANDSHAKE_HANDLER_CLASS_MAX,
};

enum handshake_msg_type {
	HANDSHAKE_MSG_TYPE_UNSPEC,
	HANDSHAKE_MSG_TYPE_CLIENTHELLO,
	HANDSHAKE_MSG_TYPE_SERVERHELLO,
};

enum handshake_auth {
	HANDSHAKE_AUTH_UNSPEC,
	HANDSHAKE_AUTH_UNAUTH,
	HANDSHAKE_AUTH_PSK,
	HANDSHAKE_AUTH_X509,
};

/* Nested in HANDSHAKE_A_ACCEPT_CERTIFICATE. */
enum {
	HANDSHAKE_A_X509_CERT = 1,	/* s32 key serial */
	HANDSHAKE_A_X509_PRIVKEY,	/* s32 key serial */

	__HANDSHAKE_A_X509_MAX,
	HANDSHAKE_A_X509_MAX = (__HANDSHAKE_A_X509_MAX - 1)
};

enum {
	HANDSHAKE_A_ACCEPT_SOCKFD = 1,		/* s32 */
	HANDSHAKE_A_ACCEPT_HANDLER_CLASS,	/* u32, request only */
	HANDSHAKE_A_ACCEPT_MESSAGE_TYPE,	/* u32 */
	HANDSHAKE_A_ACCEPT_TIMEOUT,		/* u32, milliseconds */
	HANDSHAKE_A_ACCEPT_AUTH_MODE,		/* u32 */
	HANDSHAKE_A_ACCEPT_PEER_IDENTITY,	/* u32, repeated */
	HANDSHAKE_A_ACCEPT_CERTIFICATE,		/* nest, repeated */
	HANDSHAKE_A_ACCEPT_PEERNAME,		/* NUL-terminated string */
	HANDSHAKE_A_ACCEPT_KEYRING,		/* u32 key serial */

	__HANDSHAKE_A_ACCEPT_MAX,
	HANDSHAKE_A_ACCEPT_MAX = (__HANDSHAKE_A_ACCEPT_MAX - 1)
};

enum {
	HANDSHAKE_A_DONE_STATUS = 1,		/* u32, positive errno */
	HANDSHAKE_A_DONE_SOCKFD,		/* s32 */
	HANDSHAKE_A_DONE_REMOTE_AUTH,		/* u32 key serial, repeated */
	HANDSHAKE_A_DONE_TAG,			/* string, repeated; ignored */

	__HANDSHAKE_A_DONE_MAX,
	HANDSHAKE_A_DONE_MAX = (__HANDSHAKE_A_DONE_MAX - 1)
};

enum {
	HANDSHAKE_CMD_READY = 1,	/* notification, carries HANDLER_CLASS */
	HANDSHAKE_CMD_ACCEPT,
	HANDSHAKE_CMD_DONE,

	__HANDSHAKE_CMD_MAX,
	HANDSHAKE_CMD_MAX = (__HANDSHAKE_CMD_MAX - 1)
};

#define HANDSHAKE_MCGRP_NONE	"none"
#define HANDSHAKE_MCGRP_TLSHD	"tlshd"

#endif /* _UAPI_LINUX_HANDSHAKE_H */
