// SPDX-License-Identifier: GPL-2.0
/*
 * Keyrings: a consumer's private keyring is linked into the accepting
 * agent's process keyring, so the agent can reach the keys in it, and
 * unlinked again if the ACCEPT fails after all.
 */

#include <linux/key.h>
#include <linux/err.h>
#include <uapi/linux/keyctl.h>

#include "shim.h"

#if IS_ENABLED(CONFIG_KEYS)
static int tlsup_keyring_op(int keyring, bool link)
{
	key_ref_t process_ref, keyring_ref;
	int ret;

	/* Creates the process keyring if the agent has none yet. */
	process_ref = lookup_user_key(KEY_SPEC_PROCESS_KEYRING,
				      link ? KEY_LOOKUP_CREATE : 0,
				      KEY_NEED_WRITE);
	if (IS_ERR(process_ref))
		return PTR_ERR(process_ref);
	keyring_ref = lookup_user_key(keyring, 0,
				      link ? KEY_NEED_LINK : KEY_NEED_UNLINK);
	if (IS_ERR(keyring_ref)) {
		ret = PTR_ERR(keyring_ref);
		goto out;
	}
	if (link)
		ret = key_link(key_ref_to_ptr(process_ref),
			       key_ref_to_ptr(keyring_ref));
	else
		ret = key_unlink(key_ref_to_ptr(process_ref),
				 key_ref_to_ptr(keyring_ref));
	key_ref_put(keyring_ref);
out:
	key_ref_put(process_ref);
	return ret;
}

int tlsup_shim_keyring_link(int keyring)
{
	return tlsup_keyring_op(keyring, true);
}

void tlsup_shim_keyring_unlink(int keyring)
{
	tlsup_keyring_op(keyring, false);
}
#else
int tlsup_shim_keyring_link(int keyring)
{
	return -ENOKEY;
}

void tlsup_shim_keyring_unlink(int keyring)
{
}
#endif
