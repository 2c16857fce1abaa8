/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by tlsup's kernel shims, and the casts between kernel
 * objects and the core's opaque handles.
 */
#ifndef _TLSUP_SHIM_H
#define _TLSUP_SHIM_H

#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include <tlsup/core.h>

#include "compat.h"

/*
 * tlsup's state of one network namespace (its net_generic slot): the core's
 * state and the kernel objects that serve it. @lock guards @core, which
 * namespace exit clears before the core's state is torn down.
 */
struct tlsup_pernet {
	struct net *net;
	spinlock_t lock;
	struct tlsup_core_pernet *core;
	struct delayed_work reaper;
};

/* The namespace's core state with a reference taken, or NULL. */
struct tlsup_core_pernet *tlsup_pernet_get(struct net *net);
int tlsup_pernet_register(void);
void tlsup_pernet_unregister(void);

extern struct genl_family tlsup_genl_family;
int tlsup_genl_register(void);
void tlsup_genl_unregister(void);

int tlsup_proc_net_init(struct net *net);
void tlsup_proc_net_exit(struct net *net);

int tlsup_alert_send(struct socket *sock, u8 level, u8 description);

#ifdef TLSUP_KUNIT_HOOKS
void tlsup_kunit_net_stats(struct net *net, struct tlsup_stats *out);
int tlsup_kunit_net_show(struct net *net, char *buf, size_t size);
#endif

static inline struct tlsup_ksock *to_ksock(struct sock *sk)
{
	return (struct tlsup_ksock *)sk;
}

static inline struct sock *from_ksock(struct tlsup_ksock *sk)
{
	return (struct sock *)sk;
}

static inline struct tlsup_kfile *to_kfile(struct file *file)
{
	return (struct tlsup_kfile *)file;
}

static inline struct file *from_kfile(struct tlsup_kfile *file)
{
	return (struct file *)file;
}

#endif /* _TLSUP_SHIM_H */
