// SPDX-License-Identifier: GPL-2.0
/*
 * The core's locks: bottom-half-safe spinlocks (tls_handshake_cancel() may
 * run in softirq context), one lockdep class per kind.
 */

#include <linux/lockdep.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "shim.h"

static struct lock_class_key tlsup_lock_keys[TLSUP_LOCK_NR];
static const char *const tlsup_lock_names[TLSUP_LOCK_NR] = {
	[TLSUP_LOCK_INDEX] = "tlsup_index_lock",
	[TLSUP_LOCK_PERNET] = "tlsup_pernet_lock",
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

void tlsup_shim_lock_assert_held(struct tlsup_lock *lock)
{
	lockdep_assert_held((spinlock_t *)lock);
}
