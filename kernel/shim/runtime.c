// SPDX-License-Identifier: GPL-2.0
/*
 * What the core's support library (kernel/kstd) needs from the kernel:
 * memory, and reporting its own bugs.
 */

#include <linux/bug.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "shim.h"

const unsigned int tlsup_gfp_kernel = (__force unsigned int)GFP_KERNEL;

void *tlsup_shim_alloc(unsigned long size, unsigned int gfp)
{
	return kvmalloc(size, (__force gfp_t)gfp);
}

void tlsup_shim_free(const void *p)
{
	kvfree(p);
}

void tlsup_shim_bug(const char *why)
{
	panic("%s\n", why);
}

void tlsup_shim_warn(const char *why)
{
	WARN(1, "%s\n", why);
}
