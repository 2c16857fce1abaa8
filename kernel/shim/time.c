// SPDX-License-Identifier: GPL-2.0
/* The core's clock, for request ages and the kernel-side deadline. */

#include <linux/jiffies.h>

#include "shim.h"

unsigned long long tlsup_shim_now_ms(void)
{
	return jiffies64_to_msecs(get_jiffies_64());
}
