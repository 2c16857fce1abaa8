/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What tlsup's KUnit suites share: consumers (kernel TCP sockets with a
 * file and a completion callback that counts) and an agent that talks to
 * the "handshake" family with real generic netlink messages from a kernel
 * netlink socket.
 */
#ifndef _TLSUP_KUNIT_HARNESS_H
#define _TLSUP_KUNIT_HARNESS_H

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/file.h>
#include <linux/key.h>
#include <linux/net.h>
#include <net/net_namespace.h>
#include <net/sock.h>

/* <net/tls.h> first, as kTLS consumers include it (6.1: a macro clash). */
#include <net/tls.h>

#include "../../kernel/shim/compat.h"
#if TLSUP_KERNEL_HAS_HANDSHAKE_H
#include <net/handshake.h>
#include <net/tls_prot.h>
#else
#include "../../include/net/handshake.h"
#endif
#include "../../include/uapi/linux/handshake.h"
#include "netns_guard.h"
#include <tlsup/core.h>

#define KT_MAX_CONSUMERS 64
#define KT_MAX_AGENTS 4
#define KT_WAIT_MS 8000

/* tlsup.ko's test-only exports (namespace TLSUP_KUNIT). */
extern struct genl_family tlsup_genl_family;
void tlsup_kunit_net_stats(struct net *net, struct tlsup_stats *out);
/* /proc/net/tlsup's text for @net; its length, -ENOSPC or -ENOENT. */
int tlsup_kunit_net_show(struct net *net, char *buf, size_t size);

struct kt_consumer {
	struct socket *sock;
	struct file *file;	/* NULL once the test closed it */
	struct tls_handshake_args args;
	atomic_t calls;
	int status;
	key_serial_t peerid;
	struct completion done;
	/* The socket's destructor before ours; counts chained calls. */
	void (*tcp_destruct)(struct sock *sk);
	atomic_t destruct_calls;
};

struct kt_agent {
	struct socket *sock;
	struct file *file;
	u32 seq;
	int ready_seen;		/* READY notifications received */
	int overruns;		/* ENOBUFS reads: notifications were lost */
	/* Unprivileged: the credentials its commands are sent with. */
	const struct cred *cred;
	struct kunit *test;
	int saved_rcvbuf;
	u8 *rxbuf;		/* KT_BUF bytes, for every receive */
};

/* A decoded ACCEPT reply. */
struct kt_accept {
	int err;		/* 0, or the negative errno of the ack */
	int fd;
	u32 msg_type;
	u32 auth_mode;
	u32 timeout_ms;
	u32 keyring;
	bool has_timeout, has_keyring, has_peername, has_cert;
	char peername[256];
	u32 peerids[8];
	int num_peerids;
	s32 cert, privkey;
	u16 order[16];		/* attribute types in reply order */
	int num_attrs;
};

/* Per-test state, released by kt_exit() even when a case fails. */
struct kt_ctx {
	struct net *net;
	struct kt_consumer *consumers[KT_MAX_CONSUMERS];
	int num_consumers;
	struct kt_agent *agents[KT_MAX_AGENTS];
	int num_agents;
	int fds[KT_MAX_CONSUMERS * 2];
	int num_fds;
	struct kt_probes *probes;
};

int kt_init(struct kunit *test);
void kt_exit(struct kunit *test);
struct kt_ctx *kt_ctx(struct kunit *test);

/*
 * The test namespace guest.sh keeps a process in (its pid is in
 * KT_NETNS_PID_FILE), referenced; the case drops it with put_net().
 */
#define KT_NETNS_PID_FILE "/run/tlsup-kunit-netns.pid"
struct net *kt_test_netns(struct kunit *test);

/* A connected-enough consumer socket in @net (init_net if NULL). */
struct kt_consumer *kt_consumer(struct kunit *test, struct net *net);
void kt_consumer_args(struct kt_consumer *c, unsigned int timeout_ms);
void kt_close_consumer(struct kt_consumer *c);
/* The case released the socket itself: kt_exit() leaves it alone. */
void kt_forget_consumer(struct kt_consumer *c);
void kt_forget_agent(struct kt_agent *a);
bool kt_wait_done(struct kt_consumer *c, unsigned int ms);
long kt_file_count(struct kt_consumer *c);
int kt_sk_refs(struct kt_consumer *c);
int kt_wait_sk_refs(struct kt_consumer *c, int want, unsigned int ms);

/*
 * An agent socket in @net: @privileged false drops CAP_NET_ADMIN from the
 * credentials the socket's file carries, as for an unprivileged process.
 * @join subscribes it to the "tlshd" group.
 */
struct kt_agent *kt_agent(struct kunit *test, struct net *net,
			  bool privileged, bool join);
/* Joins the "tlshd" group with the agent's credentials; 0 or -errno. */
int kt_agent_join(struct kt_agent *a);
/* Netlink options of an agent socket. */
int kt_agent_broadcast_error(struct kt_agent *a);
/* @full: the agent's queue takes one more message, then overruns. */
void kt_agent_queue_limit(struct kt_agent *a, bool full);
/* Sends a command with raw attributes; returns the ack's error. */
int kt_send(struct kt_agent *a, u8 cmd, const void *attrs, int len,
	    struct kt_accept *reply);
/* The same with the genl header's reserved field set to @reserved. */
int kt_send_hdr(struct kt_agent *a, u8 cmd, u16 reserved, const void *attrs,
		int len, struct kt_accept *reply);
int kt_accept(struct kt_agent *a, struct kt_accept *out);
int kt_accept_class(struct kt_agent *a, u32 class_, struct kt_accept *out);
/* @status < 0: omit STATUS. */
int kt_done(struct kt_agent *a, int fd, int status, const u32 *remote,
	    int num_remote);
/* Counts READY notifications queued on the agent's socket. */
int kt_drain_ready(struct kt_agent *a);
/* Registers an fd the test must close at exit. */
void kt_track_fd(struct kunit *test, int fd);

/* Attribute building for raw messages. */
int kt_put_u32(u8 *buf, int off, u16 type, u32 v);

void kt_stats(struct net *net, struct tlsup_stats *st);
/* True while the socket's destructor is the harness's, i.e. not tlsup's. */
bool kt_destructor_is_ours(struct kt_consumer *c);

/* Counts of tlsup's tracepoints while a case runs (unregistered at exit). */
struct kt_probes {
	atomic_t submit, complete, cancel, accept, done, destruct, expire;
	atomic_t alert_send;
};

struct kt_probes *kt_probes_start(struct kunit *test);
void kt_probes_stop(struct kunit *test);
/* tlsup.ko's reference count, from sysfs; -1 if it cannot be read. */
int kt_tlsup_module_refs(void);
/* A decimal integer from a file; -1 if it cannot be read. */
int kt_read_int(const char *path);

#endif /* _TLSUP_KUNIT_HARNESS_H */
