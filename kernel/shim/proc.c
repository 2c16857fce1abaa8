// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/tlsup: the namespace's counters and in-flight requests, as the
 * core formats them.
 */

#include <linux/capability.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "shim.h"

void tlsup_shim_seq_printf(struct tlsup_seq *seq, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	seq_vprintf((struct seq_file *)seq, fmt, args);
	va_end(args);
}

static const char *const tlsup_tcp_state_names[] = {
	[TCP_ESTABLISHED] = "ESTABLISHED",
	[TCP_SYN_SENT] = "SYN_SENT",
	[TCP_SYN_RECV] = "SYN_RECV",
	[TCP_FIN_WAIT1] = "FIN_WAIT1",
	[TCP_FIN_WAIT2] = "FIN_WAIT2",
	[TCP_TIME_WAIT] = "TIME_WAIT",
	[TCP_CLOSE] = "CLOSE",
	[TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_LAST_ACK] = "LAST_ACK",
	[TCP_LISTEN] = "LISTEN",
	[TCP_CLOSING] = "CLOSING",
	[TCP_NEW_SYN_RECV] = "NEW_SYN_RECV",
};

/*
 * What holds an ended request's socket: its state, its references, the
 * memory of what it sent, and whether it still has its file (orphan=0: someone holds the file or a
 * descriptor; orphan=1: closed, TCP finishing or a sock reference held).
 * Racy reads, for people.
 */
void tlsup_shim_seq_sock(struct tlsup_seq *seq, struct tlsup_ksock *ksk)
{
	struct sock *sk = from_ksock(ksk);
	unsigned int state = READ_ONCE(sk->sk_state);

	if (state < ARRAY_SIZE(tlsup_tcp_state_names) &&
	    tlsup_tcp_state_names[state])
		seq_printf((struct seq_file *)seq, " sk_state=%s",
			   tlsup_tcp_state_names[state]);
	else
		seq_printf((struct seq_file *)seq, " sk_state=%u", state);
	/* sk_wmem: 1 + sent bytes not yet freed; the socket outlives them. */
	seq_printf((struct seq_file *)seq, " sk_refs=%u sk_wmem=%u orphan=%d",
		   refcount_read(&sk->sk_refcnt),
		   refcount_read(&sk->sk_wmem_alloc), sock_flag(sk, SOCK_DEAD));
}

/*
 * Counters for anyone; peernames only for a reader whose file was opened
 * with CAP_NET_ADMIN over the namespace (the opener's credentials, not the
 * reader's, so a privileged process cannot be tricked into reading for an
 * unprivileged one).
 */
static int tlsup_proc_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct tlsup_core_pernet *core = tlsup_pernet_get(net);
	bool privileged;

	if (!core)
		return 0;
	privileged = file_ns_capable(seq->file, net->user_ns, CAP_NET_ADMIN);
	tlsup_core_pernet_show(core, (struct tlsup_seq *)seq, privileged);
	tlsup_core_pernet_put(core);
	return 0;
}

#ifdef TLSUP_KUNIT_HOOKS
/**
 * tlsup_kunit_net_show - /proc/net/tlsup's text for a namespace, for KUnit
 * @net: the namespace
 * @buf: filled with the text, NUL-terminated
 * @size: its size
 *
 * As a privileged reader sees it, without going through procfs (a KUnit
 * case's kernel thread may not see the guest's /proc). Not part of the
 * consumer API; exported only by a TLSUP_TESTS=1 build.
 *
 * Context: process; takes BH-safe spinlocks.
 * Return: the text's length; -ENOSPC if it did not fit, -ENOENT if the
 * namespace has no state.
 */
int tlsup_kunit_net_show(struct net *net, char *buf, size_t size)
{
	struct tlsup_core_pernet *core = tlsup_pernet_get(net);
	struct seq_file m = { .buf = buf, .size = size };

	if (!core)
		return -ENOENT;
	tlsup_core_pernet_show(core, (struct tlsup_seq *)&m, true);
	tlsup_core_pernet_put(core);
	if (seq_has_overflowed(&m) || m.count >= size)
		return -ENOSPC;
	buf[m.count] = 0;
	return m.count;
}
TLSUP_EXPORT_SYMBOL_NS_GPL(tlsup_kunit_net_show, TLSUP_KUNIT);
#endif

int tlsup_proc_net_init(struct net *net)
{
	if (!IS_ENABLED(CONFIG_PROC_FS))
		return 0;
	if (!proc_create_net_single("tlsup", 0444, net->proc_net,
				    tlsup_proc_show, NULL))
		return -ENOMEM;
	return 0;
}

void tlsup_proc_net_exit(struct net *net)
{
	remove_proc_entry("tlsup", net->proc_net);
}
