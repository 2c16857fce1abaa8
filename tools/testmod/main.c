// SPDX-License-Identifier: GPL-2.0
/*
 * tlsup_testmod: a test consumer of the TLS handshake API. It uses only
 * <net/handshake.h>, as an upstream consumer would.
 */

#include <linux/module.h>
#include <linux/workqueue.h>

#include "testmod.h"

static int __init tm_init(void)
{
	/* Sessions never block a worker while they wait for a handshake. */
	tm_wq = alloc_workqueue("tlsup_testmod", WQ_UNBOUND, 0);
	if (!tm_wq)
		return -ENOMEM;
	return tm_debugfs_init();
}

static void __exit tm_exit(void)
{
	tm_debugfs_exit();
	destroy_workqueue(tm_wq);
}

module_init(tm_init);
module_exit(tm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test consumer of the TLS handshake API (tlsup)");
