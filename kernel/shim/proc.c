// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/tlsup: the namespace's counters and in-flight requests, as the
 * core formats them.
 */

#include <linux/capability.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

#include "shim.h"

void tlsup_shim_seq_printf(struct tlsup_seq *seq, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	seq_vprintf((struct seq_file *)seq, fmt, args);
	va_end(args);
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
