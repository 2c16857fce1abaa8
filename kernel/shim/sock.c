// SPDX-License-Identifier: GPL-2.0
/*
 * Sockets, files and descriptors: the references a request pins, the
 * sk_destruct hook that frees it, and the descriptors ACCEPT and DONE use.
 */

#include <linux/file.h>
#include <linux/fcntl.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/rcupdate.h>
#include <net/inet_common.h>
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

/* Each request holds one: its socket's sk_destruct is this module's text. */
bool tlsup_shim_module_get(void)
{
	return try_module_get(THIS_MODULE);
}

void tlsup_shim_module_put(void)
{
	module_put(THIS_MODULE);
}

/*
 * The destructor a socket of @sk's family had before anyone hooked it, for
 * a hooked socket whose request is gone (a bug the core warns about): the
 * socket must still be torn down. inet_create() installs inet_sock_destruct
 * for both IP families; sock_init_data()'s default does nothing.
 */
static void tlsup_sk_default_destruct(struct sock *sk)
{
	if (sk->sk_family == AF_INET || sk->sk_family == AF_INET6)
		inet_sock_destruct(sk);
}

/*
 * Runs when the last reference to a socket that had a request goes. The
 * request is released only after the original destructor: it holds the
 * module reference that keeps this function's text alive. That release
 * may drop the module's last reference; free_module() waits for an RCU
 * grace period before it frees our text, so the release happens inside a
 * read-side section and only the epilogue after rcu_read_unlock() runs
 * unprotected (a preemptible kernel would have to preempt exactly there
 * for the whole unload).
 */
static void tlsup_sk_destruct(struct sock *sk)
{
	void (*orig)(struct sock *sk);
	struct tlsup_req *req;
	void *cookie;

	rcu_read_lock();
	req = tlsup_core_sk_unhook(to_ksock(sk), &cookie);
	orig = req ? cookie : tlsup_sk_default_destruct;
	if (orig)
		orig(sk);
	tlsup_core_req_release(req);
	rcu_read_unlock();
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
