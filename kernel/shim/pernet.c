// SPDX-License-Identifier: GPL-2.0
/*
 * Per network namespace state: the core's queues and counters, the deadline
 * reaper's work item, and /proc/net/tlsup.
 */

#include <linux/workqueue.h>
#include <linux/jiffies.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "shim.h"

static unsigned int tlsup_net_id;

/**
 * tlsup_pernet - tlsup's state of a network namespace
 * @net: the namespace
 *
 * Context: any.
 * Return: the state, or NULL before the pernet operations are registered.
 */
struct tlsup_pernet *tlsup_pernet(struct net *net)
{
	return tlsup_net_id ? net_generic(net, tlsup_net_id) : NULL;
}

struct tlsup_net *tlsup_shim_net_of(struct tlsup_ksock *sk)
{
	struct tlsup_pernet *pn = tlsup_pernet(sock_net(from_ksock(sk)));

	return pn ? pn->core : NULL;
}

/**
 * tlsup_kunit_net_stats - counters of a namespace, for the KUnit suites
 * @net: the namespace
 * @out: filled with the counters (zeroed if the namespace has no state)
 *
 * Not part of the consumer API: exported in namespace TLSUP_KUNIT only.
 *
 * Context: any; takes a BH-safe spinlock.
 */
void tlsup_kunit_net_stats(struct net *net, struct tlsup_stats *out)
{
	struct tlsup_pernet *pn = tlsup_pernet(net);

	memset(out, 0, sizeof(*out));
	if (pn && pn->core)
		tlsup_core_net_stats(pn->core, out);
}
EXPORT_SYMBOL_NS_GPL(tlsup_kunit_net_stats, TLSUP_KUNIT);

static void tlsup_reaper_work(struct work_struct *work)
{
	struct tlsup_pernet *pn = container_of(to_delayed_work(work),
					       struct tlsup_pernet, reaper);

	tlsup_core_net_reap(pn->core);
}

void tlsup_shim_reaper_arm(struct tlsup_knet *knet, unsigned long long delay_ms)
{
	struct tlsup_pernet *pn = from_knet(knet);

	mod_delayed_work(system_wq, &pn->reaper,
			 msecs_to_jiffies(min_t(u64, delay_ms, UINT_MAX)));
}

void tlsup_shim_reaper_cancel_sync(struct tlsup_knet *knet)
{
	cancel_delayed_work_sync(&from_knet(knet)->reaper);
}

static int __net_init tlsup_net_init(struct net *net)
{
	struct tlsup_pernet *pn = net_generic(net, tlsup_net_id);
	int ret;

	pn->net = net;
	INIT_DELAYED_WORK(&pn->reaper, tlsup_reaper_work);
	pn->core = tlsup_core_net_create(to_knet(pn));
	if (!pn->core)
		return -ENOMEM;
	ret = tlsup_proc_net_init(net);
	if (ret) {
		tlsup_core_net_exit(pn->core);
		pn->core = NULL;
	}
	return ret;
}

static void __net_exit tlsup_net_exit(struct net *net)
{
	struct tlsup_pernet *pn = net_generic(net, tlsup_net_id);

	tlsup_proc_net_exit(net);
	/* Completes every in-flight request with -ETIMEDOUT. */
	tlsup_core_net_exit(pn->core);
	pn->core = NULL;
}

static struct pernet_operations tlsup_net_ops = {
	.init = tlsup_net_init,
	.exit = tlsup_net_exit,
	.id = &tlsup_net_id,
	.size = sizeof(struct tlsup_pernet),
};

int tlsup_pernet_register(void)
{
	return register_pernet_subsys(&tlsup_net_ops);
}

void tlsup_pernet_unregister(void)
{
	unregister_pernet_subsys(&tlsup_net_ops);
}
