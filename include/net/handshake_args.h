/* SPDX-License-Identifier: GPL-2.0 */
/*
 * struct tls_handshake_args, as upstream's <net/handshake.h> defines it.
 * Included by tlsup's <net/handshake.h>; on kernels that have their own
 * header (6.4+) kernel/shim/abi.c includes it under another name and checks
 * at build time that the layouts are the same.
 */
#ifndef _TLSUP_HANDSHAKE_ARGS_H
#define _TLSUP_HANDSHAKE_ARGS_H

#include <linux/types.h>
#include <linux/key.h>

struct socket;

typedef void	(*tls_done_func_t)(void *data, int status,
				   key_serial_t peerid);

struct tls_handshake_args {
	struct socket		*ta_sock;
	tls_done_func_t		ta_done;
	void			*ta_data;
	const char		*ta_peername;
	unsigned int		ta_timeout_ms;
	key_serial_t		ta_keyring;
	key_serial_t		ta_my_cert;
	key_serial_t		ta_my_privkey;
	unsigned int		ta_num_peerids;
	key_serial_t		ta_my_peerids[5];
};

#endif /* _TLSUP_HANDSHAKE_ARGS_H */
