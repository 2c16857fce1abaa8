// SPDX-License-Identifier: GPL-2.0
/*
 * tlsup: the TLS handshake upcall service for kernels without net/handshake.
 * Module load and unload.
 */

#include <linux/module.h>
#include <linux/rcupdate.h>

#include "../../include/uapi/linux/handshake.h"
#include "shim.h"

/*
 * Order: the core, then per-namespace state, then the netlink family, so
 * that no ACCEPT or DONE can arrive before the state it works on exists.
 * The consumer API needs no ordering: no module can link against tlsup's
 * symbols before this returns.
 */
static int __init tlsup_init(void)
{
	int ret;

	ret = tlsup_core_init();
	if (ret)
		return ret;
	ret = tlsup_pernet_register();
	if (ret)
		goto out_core;
	ret = tlsup_genl_register();
	if (ret)
		goto out_pernet;
	pr_info("tlsup: TLS handshake service ready (genl family \"%s\")\n",
		HANDSHAKE_FAMILY_NAME);
	return 0;

out_pernet:
	tlsup_pernet_unregister();
out_core:
	tlsup_core_exit();
	return ret;
}

/*
 * The reverse: once the family is unregistered no command is running or can
 * start (genetlink waits for running ones), then the namespaces' state goes.
 * No request is left: each holds a module reference.
 */
static void __exit tlsup_exit(void)
{
	tlsup_genl_unregister();
	tlsup_pernet_unregister();
	tlsup_core_exit();
}

module_init(tlsup_init);
module_exit(tlsup_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("TLS handshake upcall service (net/handshake compatible)");
MODULE_AUTHOR("tlsup developers");
MODULE_ALIAS_GENL_FAMILY(HANDSHAKE_FAMILY_NAME);
