/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tlsup_testmod: a kernel TLS consumer driven from userspace through
 * debugfs, for the end-to-end suite, the demo and the benchmarks.
 * The command language is in Documentation/tools.rst.
 */
#ifndef _TLSUP_TESTMOD_H
#define _TLSUP_TESTMOD_H

#include <linux/completion.h>
#include <linux/key.h>
#include <linux/list.h>
#include <linux/net.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

/*
 * As kTLS consumers (nvme-tcp, sunrpc) do: <net/tls.h> first. The TLS
 * record and alert constants are in <net/tls_prot.h> where the kernel has
 * it (6.5+, so that tlsup's header skips its own copy), else in tlsup's
 * <net/handshake.h>. On 6.4+ kernels <net/handshake.h> is the kernel's own
 * (with or without CONFIG_NET_HANDSHAKE): this module builds unchanged.
 */
#include <net/tls.h>
#if __has_include("net/tls_prot.h")
#include <net/tls_prot.h>
#endif
#include <net/handshake.h>

#define TM_MAX_PEERIDS 5

enum tm_auth { TM_ANON, TM_X509, TM_PSK };

/* What a "start" command asks for; shared by the sessions of a group. */
struct tm_spec {
	int id;
	bool server;
	int family;			/* AF_INET or AF_INET6 */
	struct sockaddr_storage addr;
	int addrlen;
	enum tm_auth auth;
	char peername[256];
	unsigned int timeout_ms;	/* ta_timeout_ms */
	key_serial_t keyring, cert, privkey;
	unsigned int num_peerids;
	key_serial_t peerids[TM_MAX_PEERIDS];
	u64 send;			/* bytes to send after the handshake */
	u64 recv;			/* bytes to receive (and check) */
	bool echo;			/* server: echo data until the peer stops */
	int cancel_ms;			/* -1: never; else cancel this long after submit */
	bool cancel_after_done;
	int close_ms;			/* -1: never; else release the socket mid-handshake */
	bool preset_ulp;		/* attach the "tls" ULP before the request */
	unsigned int count;		/* sessions (client) or connections (server) */
	unsigned int concurrency;	/* client: at most this many at once (0: all) */
	unsigned int wait_ms;		/* how long a session waits for its callback */
};

enum tm_phase {
	TM_NEW, TM_CONNECTING, TM_HANDSHAKE, TM_DATA, TM_DONE,
};

struct tm_group;

struct tm_session {
	struct tm_group *group;
	int index;
	struct socket *sock;
	struct file *file;		/* NULL once released */
	struct sock *sk;		/* held until the session is freed */
	bool submitted;

	struct work_struct start_work;	/* client: socket, connect, submit */
	struct work_struct data_work;
	struct delayed_work cancel_work;
	struct delayed_work close_work;
	struct delayed_work guard_work;
	struct completion callback_done;

	/* Written by the callback, read after callback_done. */
	atomic_t calls;
	int status;
	key_serial_t peerid;

	atomic_t finished;
	int cancel_result;		/* -1 not tried, 0 false, 1 true */
	bool closed_early;
	enum tm_phase phase;
	u64 sent, received;
	u32 rec_data, rec_handshake, rec_alert, rec_other;
	u8 alert_level, alert_desc;
	ktime_t t_submit, t_callback;
	char error[96];
};

struct tm_group {
	struct list_head node;
	struct tm_spec spec;
	struct net *net;
	struct socket *listener;	/* server groups */
	struct work_struct accept_work;
	atomic_t remaining;
	struct completion all_done;
	atomic_t next_start;		/* client: index of the next session to start */
	spinlock_t start_lock;		/* next_start's pick and queueing vs. stopping */
	bool stopping;			/* tm_group_free() began: no more starts */
	ktime_t t_start, t_done;
	struct tm_session *sessions[];
};

/* debugfs.c */
int tm_debugfs_init(void);
void tm_debugfs_exit(void);

/* session.c */
extern struct workqueue_struct *tm_wq;
struct tm_group *tm_group_start(const struct tm_spec *spec, int *err);
int tm_group_wait(struct tm_group *g, unsigned int timeout_ms);
void tm_group_cancel(struct tm_group *g);
void tm_group_free(struct tm_group *g);
void tm_session_format(struct tm_session *s, char *buf, size_t len);
void tm_group_format(struct tm_group *g, char *buf, size_t len);

#endif /* _TLSUP_TESTMOD_H */
