// SPDX-License-Identifier: GPL-2.0
/*
 * Keyrings: a consumer's private keyring is linked into the accepting
 * agent's process keyring, so the agent can reach the keys in it.
 *
 * A link is one per (process keyring, keyring) however often it is made,
 * and a threaded agent ACCEPTs many requests that name the same keyring
 * (NVMe/TCP names ".nvme" for every queue). So an ACCEPT that fails after
 * linking may take the link back only if it made it and no other ACCEPT
 * that linked the same keyring into the same process keyring is still in
 * progress or went through: the ACCEPTs between link and their outcome are
 * tracked here, per pair.
 */

#include <linux/err.h>
#include <linux/key.h>
#include <linux/key-type.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <uapi/linux/keyctl.h>

#include "shim.h"

#if IS_ENABLED(CONFIG_KEYS)

/* ACCEPTs in progress that linked @keyring into @process. */
struct tlsup_link {
	struct list_head node;
	key_serial_t process;
	key_serial_t keyring;
	unsigned int in_progress;
	bool created;		/* the first of them made the link */
	bool kept;		/* one of them went through */
};

/* Sleeps: ACCEPT runs in process context (a genl doit). */
static DEFINE_MUTEX(tlsup_links_lock);
static LIST_HEAD(tlsup_links);

static struct tlsup_link *tlsup_link_find(key_serial_t process,
					  key_serial_t keyring)
{
	struct tlsup_link *l;

	list_for_each_entry(l, &tlsup_links, node)
		if (l->process == process && l->keyring == keyring)
			return l;
	return NULL;
}

/* A direct member of @process already (compared by identity)? */
static bool tlsup_keyring_member(key_ref_t process, struct key *ring)
{
	key_ref_t found;
	bool member;

	if (!ring->description)
		return false;
	found = keyring_search(process, &key_type_keyring, ring->description,
			       false);
	if (IS_ERR(found))
		return false;
	member = key_ref_to_ptr(found) == ring;
	key_ref_put(found);
	return member;
}

int tlsup_shim_keyring_link(int keyring)
{
	key_ref_t process_ref, keyring_ref;
	struct tlsup_link *l, *fresh;
	struct key *process, *ring;
	bool is_new = false;
	int ret;

	/* Creates the process keyring if the agent has none yet. */
	process_ref = lookup_user_key(KEY_SPEC_PROCESS_KEYRING,
				      KEY_LOOKUP_CREATE, KEY_NEED_WRITE);
	if (IS_ERR(process_ref))
		return PTR_ERR(process_ref);
	keyring_ref = lookup_user_key(keyring, 0, KEY_NEED_LINK);
	if (IS_ERR(keyring_ref)) {
		ret = PTR_ERR(keyring_ref);
		goto out_process;
	}
	process = key_ref_to_ptr(process_ref);
	ring = key_ref_to_ptr(keyring_ref);
	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);
	if (!fresh) {
		ret = -ENOMEM;
		goto out_keyring;
	}

	mutex_lock(&tlsup_links_lock);
	l = tlsup_link_find(key_serial(process), key_serial(ring));
	if (!l) {
		l = fresh;
		fresh = NULL;
		is_new = true;
		l->process = key_serial(process);
		l->keyring = key_serial(ring);
		l->created = !tlsup_keyring_member(process_ref, ring);
	}
	ret = key_link(process, ring);
	if (!ret) {
		if (is_new)
			list_add(&l->node, &tlsup_links);
		l->in_progress++;
	} else if (is_new) {
		kfree(l);
	}
	mutex_unlock(&tlsup_links_lock);
	kfree(fresh);
out_keyring:
	key_ref_put(keyring_ref);
out_process:
	key_ref_put(process_ref);
	return ret;
}

void tlsup_shim_keyring_release(int keyring, bool keep)
{
	struct key *process = NULL;
	struct tlsup_link *l;
	key_ref_t process_ref;
	bool unlink = false;

	process_ref = lookup_user_key(KEY_SPEC_PROCESS_KEYRING, 0,
				      KEY_NEED_WRITE);
	if (IS_ERR(process_ref))
		return;
	process = key_ref_to_ptr(process_ref);

	mutex_lock(&tlsup_links_lock);
	l = tlsup_link_find(key_serial(process), keyring);
	if (l) {
		l->kept |= keep;
		if (!--l->in_progress) {
			unlink = l->created && !l->kept;
			list_del(&l->node);
			kfree(l);
		}
	}
	if (unlink) {
		key_ref_t keyring_ref = lookup_user_key(keyring, 0,
							KEY_NEED_UNLINK);

		if (!IS_ERR(keyring_ref)) {
			key_unlink(process, key_ref_to_ptr(keyring_ref));
			key_ref_put(keyring_ref);
		}
	}
	mutex_unlock(&tlsup_links_lock);
	key_ref_put(process_ref);
}
#else
int tlsup_shim_keyring_link(int keyring)
{
	return -ENOKEY;
}

void tlsup_shim_keyring_release(int keyring, bool keep)
{
}
#endif
