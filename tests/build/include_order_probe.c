// SPDX-License-Identifier: GPL-2.0
/*
 * Build probe: tlsup's <net/handshake.h> included the way kTLS consumers
 * (nvme-tcp, sunrpc) include theirs, after <net/tls.h>. On 6.1 that header
 * #defines TLS_RECORD_TYPE_DATA, which once broke tlsup's enum. Built with
 * every TLSUP_TESTS=1 module build; nothing runs it.
 */

#include <linux/module.h>
#include <net/tls.h>

#include "../../include/net/handshake.h"

static int __init tlsup_include_probe_init(void)
{
	BUILD_BUG_ON(TLS_RECORD_TYPE_DATA != 23);
	BUILD_BUG_ON(TLS_RECORD_TYPE_ALERT != 21);
	return 0;
}
module_init(tlsup_include_probe_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tlsup build probe: <net/tls.h> before <net/handshake.h>");
