// SPDX-License-Identifier: GPL-2.0
/*
 * tlsup_kunit_netns: lets a KUnit case release kernel sockets of a dying
 * network namespace after tlsup has drained it but before the namespace is
 * freed. Kernel sockets hold no namespace reference, and pernet exits run
 * in reverse registration order: loaded before tlsup.ko, this module's exit
 * runs after tlsup's, while TCP's per-namespace state still exists.
 */

#include <linux/module.h>
#include <linux/spinlock.h>
#include <net/net_namespace.h>

#include "../../kernel/shim/compat.h"
#include "netns_guard.h"

static DEFINE_SPINLOCK(guard_lock);
static struct net *guard_net;
static void (*guard_fn)(void *data);
static void *guard_data;

/**
 * tlsup_kunit_netns_on_exit - run @fn when @net exits, after tlsup's exit
 * @net: the namespace
 * @fn: called once, in process context, from cleanup_net()
 * @data: its argument
 *
 * Context: process. One hook at a time.
 * Return: 0, or -EBUSY if a hook is already set.
 */
int tlsup_kunit_netns_on_exit(struct net *net, void (*fn)(void *), void *data)
{
	int ret = 0;

	spin_lock(&guard_lock);
	if (guard_fn) {
		ret = -EBUSY;
	} else {
		guard_net = net;
		guard_fn = fn;
		guard_data = data;
	}
	spin_unlock(&guard_lock);
	return ret;
}
TLSUP_EXPORT_SYMBOL_NS_GPL(tlsup_kunit_netns_on_exit, TLSUP_KUNIT);

static void __net_exit guard_net_exit(struct net *net)
{
	void (*fn)(void *data) = NULL;
	void *data = NULL;

	spin_lock(&guard_lock);
	if (guard_fn && guard_net == net) {
		fn = guard_fn;
		data = guard_data;
		guard_fn = NULL;
		guard_net = NULL;
	}
	spin_unlock(&guard_lock);
	if (fn)
		fn(data);
}

static struct pernet_operations guard_net_ops = {
	.exit = guard_net_exit,
};

static int __init guard_init(void)
{
	return register_pernet_subsys(&guard_net_ops);
}

static void __exit guard_exit(void)
{
	unregister_pernet_subsys(&guard_net_ops);
}

module_init(guard_init);
module_exit(guard_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tlsup KUnit helper: a pernet exit hook that runs after tlsup's");
