// SPDX-License-Identifier: GPL-2.0
/*
 * Sockets, files and descriptors: the references a request pins, the
 * sk_destruct hook that frees it, and the descriptors ACCEPT and DONE use.
 */

#include <linux/file.h>
#include <linux/fcntl.h>
#include <linux/net.h>
#include <net/sock.h>

#include "shim.h"

void tlsup_shim_sock_hold(struct tlsup_ksock *sk)
{
	sock_hold(from_ksock(sk));
}

void tlsup_shim_sock_put(struct tlsup_ksock *sk)
{
	sock_put(from_ksock(sk));
}

void tlsup_shim_file_get(struct tlsup_kfile *file)
{
	get_file(from_kfile(file));
}

void tlsup_shim_file_put(struct tlsup_kfile *file)
{
	fput(from_kfile(file));
}

/*
 * Runs when the last reference to a socket that had a request goes. The
 * request is released only after the original destructor: it holds the
 * module reference that keeps this function's text alive.
 */
static void tlsup_sk_destruct(struct sock *sk)
{
	void (*orig)(struct sock *sk);
	struct tlsup_req *req;
	void *cookie;

	req = tlsup_core_sk_unhook(to_ksock(sk), &cookie);
	orig = cookie;
	if (orig)
		orig(sk);
	tlsup_core_req_release(req);
}

void *tlsup_shim_sk_hook_destruct(struct tlsup_ksock *ksk)
{
	struct sock *sk = from_ksock(ksk);
	void *orig = sk->sk_destruct;

	sk->sk_destruct = tlsup_sk_destruct;
	return orig;
}

void tlsup_shim_sk_restore_destruct(struct tlsup_ksock *ksk, void *orig)
{
	from_ksock(ksk)->sk_destruct = orig;
}

int tlsup_shim_fd_reserve(void)
{
	return get_unused_fd_flags(O_CLOEXEC);
}

void tlsup_shim_fd_unreserve(int fd)
{
	put_unused_fd(fd);
}

void tlsup_shim_fd_install(int fd, struct tlsup_kfile *file)
{
	fd_install(fd, from_kfile(file));
}

struct tlsup_ksocket *tlsup_shim_sockfd_get(int fd, struct tlsup_ksock **sk,
					    int *err)
{
	struct socket *sock = sockfd_lookup(fd, err);

	if (!sock)
		return NULL;
	if (!sock->sk) {
		sockfd_put(sock);
		*err = -EINVAL;
		return NULL;
	}
	*sk = to_ksock(sock->sk);
	return (struct tlsup_ksocket *)sock;
}

void tlsup_shim_sockfd_put(struct tlsup_ksocket *ksock)
{
	struct socket *sock = (struct socket *)ksock;

	sockfd_put(sock);
}
