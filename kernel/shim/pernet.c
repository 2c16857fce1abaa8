// SPDX-License-Identifier: GPL-2.0
/*
 * Per network namespace state: the core's queues and counters, the bound on
 * them, the deadline reaper's work item, and /proc/net/tlsup.
 */

#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "shim.h"

static unsigned int max_pending;
module_param(max_pending, uint, 0644);
MODULE_PARM_DESC(max_pending,
		 "Requests a network namespace may queue un-accepted; 0 (default) = clamp(RAM / 25 / page size, 3, 50), as upstream");

unsigned int tlsup_shim_max_pending(void)
{
	unsigned int v = READ_ONCE(max_pending);

	if (v)
		return v;
	/* Upstream's si.totalram / (25 * si.mem_unit): pages / (25 * PAGE_SIZE). */
	return clamp_t(unsigned long, totalram_pages() / (25 * PAGE_SIZE), 3, 50);
}

/* 0 while the pernet operations are not registered. */
static unsigned int tlsup_net_id;

/**
 * tlsup_pernet_get - the core's state of a namespace, referenced
 * @net: the namespace
 *
 * Context: any; takes a BH-safe spinlock.
 * Return: the state with a reference the caller drops (or hands to the
 * core), or NULL before the pernet operations are registered, after they
 * are unregistered, or once the namespace is exiting.
 */
struct tlsup_core_pernet *tlsup_pernet_get(struct net *net)
{
	unsigned int id = READ_ONCE(tlsup_net_id);
	struct tlsup_core_pernet *core;
	struct tlsup_pernet *pn;

	if (!id)
		return NULL;
	pn = net_generic(net, id);
	spin_lock_bh(&pn->lock);
	core = pn->core;
	if (core)
		tlsup_core_pernet_get(core);
	spin_unlock_bh(&pn->lock);
	return core;
}

#ifdef TLSUP_KUNIT_HOOKS
/**
 * tlsup_kunit_net_stats - counters of a namespace, for the KUnit suites
 * @net: the namespace
 * @out: filled with the counters (zeroed if the namespace has no state)
 *
 * Not part of the consumer API; exported only by a TLSUP_TESTS=1 build.
 *
 * Context: any; takes BH-safe spinlocks.
 */
void tlsup_kunit_net_stats(struct net *net, struct tlsup_stats *out)
{
	struct tlsup_core_pernet *core = tlsup_pernet_get(net);

	memset(out, 0, sizeof(*out));
	if (!core)
		return;
	tlsup_core_pernet_stats(core, out);
	tlsup_core_pernet_put(core);
}
TLSUP_EXPORT_SYMBOL_NS_GPL(tlsup_kunit_net_stats, TLSUP_KUNIT);
#endif

static void tlsup_reaper_work(struct work_struct *work)
{
	struct tlsup_pernet *pn = container_of(to_delayed_work(work),
					       struct tlsup_pernet, reaper);
	struct tlsup_core_pernet *core = tlsup_pernet_get(pn->net);

	/* None once the namespace exits: its drain completes everything. */
	if (!core)
		return;
	tlsup_core_pernet_reap(core);
	tlsup_core_pernet_put(core);
}

void tlsup_shim_reaper_arm(struct tlsup_pernet *pn, unsigned long long delay_ms)
{
	mod_delayed_work(system_wq, &pn->reaper,
			 msecs_to_jiffies(min_t(u64, delay_ms, UINT_MAX)));
}

void tlsup_shim_reaper_cancel_sync(struct tlsup_pernet *pn)
{
	cancel_delayed_work_sync(&pn->reaper);
}

static int __net_init tlsup_net_init(struct net *net)
{
	struct tlsup_pernet *pn = net_generic(net, tlsup_net_id);
	struct tlsup_core_pernet *core;
	int ret;

	pn->net = net;
	spin_lock_init(&pn->lock);
	INIT_DELAYED_WORK(&pn->reaper, tlsup_reaper_work);
	core = tlsup_core_pernet_create(pn);
	if (!core)
		return -ENOMEM;
	ret = tlsup_proc_net_init(net);
	if (ret) {
		tlsup_core_pernet_exit(core);
		return ret;
	}
	spin_lock_bh(&pn->lock);
	pn->core = core;
	spin_unlock_bh(&pn->lock);
	return 0;
}

static void __net_exit tlsup_net_exit(struct net *net)
{
	struct tlsup_pernet *pn = net_generic(net, tlsup_net_id);
	struct tlsup_core_pernet *core;

	tlsup_proc_net_exit(net);
	/* No new submit or command finds it after this. */
	spin_lock_bh(&pn->lock);
	core = pn->core;
	pn->core = NULL;
	spin_unlock_bh(&pn->lock);
	/* Completes every in-flight request with -ETIMEDOUT. */
	if (core)
		tlsup_core_pernet_exit(core);
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
	/* net_generic() slots of this id are gone with the operations. */
	WRITE_ONCE(tlsup_net_id, 0);
}
