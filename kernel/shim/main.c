// SPDX-License-Identifier: GPL-2.0
/*
 * tlsup: the TLS handshake upcall service for kernels without net/handshake.
 * Module load and unload, parameters, and the core's runtime services.
 */

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/jiffies.h>
#include <linux/bug.h>

#include "../../include/uapi/linux/handshake.h"
#include "shim.h"

static unsigned int max_pending;
module_param(max_pending, uint, 0644);
MODULE_PARM_DESC(max_pending,
		 "Requests a network namespace may queue un-accepted; 0 (default) = clamp(RAM / 25 / page size, 3, 50), as upstream");

const unsigned int tlsup_gfp_kernel = (__force unsigned int)GFP_KERNEL;

unsigned int tlsup_shim_max_pending(void)
{
	unsigned int v = READ_ONCE(max_pending);

	if (v)
		return v;
	/* Upstream's si.totalram / (25 * si.mem_unit): pages / (25 * PAGE_SIZE). */
	return clamp_t(unsigned long, totalram_pages() / (25 * PAGE_SIZE), 3, 50);
}

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

/* One lockdep class per core lock kind, so nesting is checked by kind. */
static struct lock_class_key tlsup_lock_keys[TLSUP_LOCK_NR];
static const char *const tlsup_lock_names[TLSUP_LOCK_NR] = {
	[TLSUP_LOCK_INDEX] = "tlsup_index_lock",
	[TLSUP_LOCK_NET] = "tlsup_net_lock",
};

struct tlsup_lock *tlsup_shim_lock_create(enum tlsup_lock_class cls,
					  unsigned int gfp)
{
	spinlock_t *lock;

	if (WARN_ON_ONCE(cls >= TLSUP_LOCK_NR))
		return NULL;
	lock = kmalloc(sizeof(*lock), (__force gfp_t)gfp);
	if (!lock)
		return NULL;
	spin_lock_init(lock);
	lockdep_set_class_and_name(lock, &tlsup_lock_keys[cls],
				   tlsup_lock_names[cls]);
	return (struct tlsup_lock *)lock;
}

void tlsup_shim_lock_destroy(struct tlsup_lock *lock)
{
	kfree(lock);
}

void tlsup_shim_lock(struct tlsup_lock *lock)
	__acquires(lock)
{
	spin_lock_bh((spinlock_t *)lock);
}

void tlsup_shim_unlock(struct tlsup_lock *lock)
	__releases(lock)
{
	spin_unlock_bh((spinlock_t *)lock);
}

unsigned long long tlsup_shim_now_ms(void)
{
	return jiffies64_to_msecs(get_jiffies_64());
}

bool tlsup_shim_module_get(void)
{
	return try_module_get(THIS_MODULE);
}

void tlsup_shim_module_put(void)
{
	module_put(THIS_MODULE);
}

static int __init tlsup_init(void)
{
	int ret;

	ret = tlsup_core_init();
	if (ret)
		return ret;
	ret = tlsup_genl_register();
	if (ret)
		goto out_core;
	/*
	 * Last: until pernet state exists the consumer API finds no
	 * namespace state and refuses requests with -EOPNOTSUPP.
	 */
	ret = tlsup_pernet_register();
	if (ret)
		goto out_genl;
	pr_info("tlsup: TLS handshake service ready (genl family \"%s\")\n",
		HANDSHAKE_FAMILY_NAME);
	return 0;

out_genl:
	tlsup_genl_unregister();
out_core:
	tlsup_core_exit();
	return ret;
}

static void __exit tlsup_exit(void)
{
	tlsup_pernet_unregister();
	tlsup_genl_unregister();
	tlsup_core_exit();
}

module_init(tlsup_init);
module_exit(tlsup_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("TLS handshake upcall service (net/handshake compatible)");
MODULE_AUTHOR("tlsup developers");
MODULE_ALIAS_GENL_FAMILY(HANDSHAKE_FAMILY_NAME);
