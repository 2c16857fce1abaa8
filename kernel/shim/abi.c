// SPDX-License-Identifier: GPL-2.0
/*
 * On kernels with their own <net/handshake.h> (6.4+, also when built
 * without CONFIG_NET_HANDSHAKE), consumers compile against the kernel's
 * struct tls_handshake_args and tlsup reads it: it must be laid out exactly
 * like tlsup's own copy, which 6.1 consumers compile against. Checked here
 * at build time, field by field.
 */

#include <linux/build_bug.h>
#include <linux/stddef.h>

#include "compat.h"

#if TLSUP_KERNEL_HAS_HANDSHAKE_H
#include <linux/key.h>
#include <net/handshake.h>

#define tls_handshake_args tlsup_own_handshake_args
#define tls_done_func_t tlsup_own_done_func_t
#include "../../include/net/handshake_args.h"
#undef tls_handshake_args
#undef tls_done_func_t

#define TLSUP_SAME_FIELD(f)						\
	static_assert(offsetof(struct tls_handshake_args, f) ==		\
		      offsetof(struct tlsup_own_handshake_args, f) &&	\
		      sizeof_field(struct tls_handshake_args, f) ==	\
		      sizeof_field(struct tlsup_own_handshake_args, f),	\
		      "struct tls_handshake_args." #f " differs from the kernel's")

static_assert(sizeof(struct tls_handshake_args) ==
	      sizeof(struct tlsup_own_handshake_args),
	      "struct tls_handshake_args differs in size from the kernel's");
TLSUP_SAME_FIELD(ta_sock);
TLSUP_SAME_FIELD(ta_done);
TLSUP_SAME_FIELD(ta_data);
TLSUP_SAME_FIELD(ta_peername);
TLSUP_SAME_FIELD(ta_timeout_ms);
TLSUP_SAME_FIELD(ta_keyring);
TLSUP_SAME_FIELD(ta_my_cert);
TLSUP_SAME_FIELD(ta_my_privkey);
TLSUP_SAME_FIELD(ta_num_peerids);
TLSUP_SAME_FIELD(ta_my_peerids);
static_assert(__same_type(tls_done_func_t, tlsup_own_done_func_t),
	      "tls_done_func_t differs from the kernel's");
#endif
