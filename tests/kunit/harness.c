// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit harness: consumer sockets and a generic netlink agent built from
 * kernel sockets. Cases run in a kernel thread, whose descriptor table is
 * the one ACCEPT installs into.
 */

#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/capability.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/netlink.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "harness.h"

#define KT_BUF 8192

struct kt_ctx *kt_ctx(struct kunit *test)
{
	return test->priv;
}

int kt_init(struct kunit *test)
{
	struct kt_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	ctx->net = &init_net;
	test->priv = ctx;
	return 0;
}

void kt_track_fd(struct kunit *test, int fd)
{
	struct kt_ctx *ctx = kt_ctx(test);

	int i;

	for (i = 0; i < ctx->num_fds; i++)
		if (ctx->fds[i] == fd)
			return;
	if (fd >= 0 && ctx->num_fds < ARRAY_SIZE(ctx->fds))
		ctx->fds[ctx->num_fds++] = fd;
}

/*
 * Cancels what is left, closes every socket and descriptor, then waits for
 * the deferred fput()s and RCU frees so that no socket destructor runs after
 * the case's memory is gone.
 */
static void kt_cleanup(struct kunit *test)
{
	struct kt_ctx *ctx = kt_ctx(test);
	int i;

	kt_probes_stop(test);
	/* A consumer whose file the case closed may have no socket left. */
	for (i = 0; i < ctx->num_consumers; i++) {
		struct kt_consumer *c = ctx->consumers[i];

		if (c->file)
			tls_handshake_cancel(c->sock->sk);
	}
	for (i = 0; i < ctx->num_fds; i++)
		close_fd(ctx->fds[i]);
	for (i = 0; i < ctx->num_consumers; i++)
		kt_close_consumer(ctx->consumers[i]);
	for (i = 0; i < ctx->num_agents; i++)
		kt_forget_agent(ctx->agents[i]);
	flush_delayed_fput();
	rcu_barrier();
	flush_delayed_fput();
}

struct kt_exit_work {
	struct kunit *test;
	struct completion done;
};

static int kt_exit_thread(void *data)
{
	struct kt_exit_work *w = data;

	kt_cleanup(w->test);
	complete(&w->done);
	return 0;
}

/*
 * After a failed assertion, KUnit (6.1) runs the exit function in the task
 * that loaded the module, not in a kthread as the case ran: there fput()
 * is task work that waits until that task returns to user space (after
 * every suite: the sockets outlive the case, their destructors then write
 * into its freed memory, and the next cases find its agents still
 * listening), and close_fd() looks in that task's descriptor table, not
 * the kthreads' table ACCEPT installed into. So the cleanup always runs in
 * a kthread.
 */
void kt_exit(struct kunit *test)
{
	struct kt_exit_work w = { .test = test };
	struct task_struct *t;

	if (current->flags & PF_KTHREAD) {
		kt_cleanup(test);
		return;
	}
	init_completion(&w.done);
	t = kthread_run(kt_exit_thread, &w, "tlsup-kt-exit");
	if (IS_ERR(t)) {
		kt_cleanup(test);
		return;
	}
	wait_for_completion(&w.done);
}

static void kt_sk_destruct(struct sock *sk)
{
	struct kt_consumer *c = sk->sk_user_data;

	atomic_inc(&c->destruct_calls);
	c->tcp_destruct(sk);
}

static void kt_done_cb(void *data, int status, key_serial_t peerid)
{
	struct kt_consumer *c = data;

	c->status = status;
	c->peerid = peerid;
	atomic_inc(&c->calls);
	complete(&c->done);
}

void kt_consumer_args(struct kt_consumer *c, unsigned int timeout_ms)
{
	memset(&c->args, 0, sizeof(c->args));
	c->args.ta_sock = c->sock;
	c->args.ta_done = kt_done_cb;
	c->args.ta_data = c;
	c->args.ta_timeout_ms = timeout_ms;
}

struct kt_consumer *kt_consumer(struct kunit *test, struct net *net)
{
	struct kt_ctx *ctx = kt_ctx(test);
	struct kt_consumer *c;
	int err;

	KUNIT_ASSERT_LT(test, ctx->num_consumers, KT_MAX_CONSUMERS);
	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	err = sock_create_kern(net ?: ctx->net, AF_INET, SOCK_STREAM,
			       IPPROTO_TCP, &c->sock);
	KUNIT_ASSERT_EQ(test, err, 0);
	c->file = sock_alloc_file(c->sock, O_NONBLOCK, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, c->file);
	init_completion(&c->done);
	atomic_set(&c->calls, 0);
	atomic_set(&c->destruct_calls, 0);
	c->status = 12345;
	c->peerid = -1;
	c->sock->sk->sk_user_data = c;
	c->tcp_destruct = c->sock->sk->sk_destruct;
	c->sock->sk->sk_destruct = kt_sk_destruct;
	kt_consumer_args(c, 0);
	ctx->consumers[ctx->num_consumers++] = c;
	return c;
}

void kt_close_consumer(struct kt_consumer *c)
{
	if (c->file) {
		fput(c->file);
		c->file = NULL;
	}
}

void kt_forget_consumer(struct kt_consumer *c)
{
	kt_close_consumer(c);
}

void kt_forget_agent(struct kt_agent *a)
{
	if (a->file) {
		fput(a->file);
		a->file = NULL;
	}
	if (a->cred) {
		put_cred(a->cred);
		a->cred = NULL;
	}
}

bool kt_wait_done(struct kt_consumer *c, unsigned int ms)
{
	return wait_for_completion_timeout(&c->done, msecs_to_jiffies(ms)) > 0;
}

long kt_file_count(struct kt_consumer *c)
{
	return file_count(c->sock->file);
}

int kt_sk_refs(struct kt_consumer *c)
{
	return refcount_read(&c->sock->sk->sk_refcnt);
}

/*
 * A request ended by another thread (the reaper, a namespace's exit) calls
 * the consumer back and then drops its socket pin, as upstream's
 * handshake_complete() runs hp_done() before its sock_put(): the consumer's
 * thread, woken by the callback, may look in between. Waits up to MS for
 * the count to be WANT; returns the last count read.
 */
int kt_wait_sk_refs(struct kt_consumer *c, int want, unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);
	int refs;

	while ((refs = kt_sk_refs(c)) != want && time_before(jiffies, end))
		usleep_range(500, 1000);
	return refs;
}

struct kt_agent *kt_agent(struct kunit *test, struct net *net,
			  bool privileged, bool join)
{
	struct kt_ctx *ctx = kt_ctx(test);
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
	const struct cred *old = NULL;
	struct cred *cred = NULL;
	struct kt_agent *a;
	int err;

	KUNIT_ASSERT_LT(test, ctx->num_agents, KT_MAX_AGENTS);
	a = kunit_kzalloc(test, sizeof(*a), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	a->rxbuf = kunit_kzalloc(test, KT_BUF, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a->rxbuf);
	err = sock_create_kern(net ?: ctx->net, AF_NETLINK, SOCK_RAW,
			       NETLINK_GENERIC, &a->sock);
	KUNIT_ASSERT_EQ(test, err, 0);
	a->test = test;
	/*
	 * An unprivileged process: its socket's file and every command it
	 * sends carry credentials without CAP_NET_ADMIN (a message with an
	 * explicit destination is checked against the sender's, as libnl's).
	 */
	if (!privileged) {
		cred = prepare_creds();
		KUNIT_ASSERT_NOT_NULL(test, cred);
		cap_lower(cred->cap_effective, CAP_NET_ADMIN);
		a->cred = cred;
		old = override_creds(cred);
	}
	a->file = sock_alloc_file(a->sock, 0, NULL);
	if (!privileged)
		revert_creds(old);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, a->file);
	ctx->agents[ctx->num_agents++] = a;

	err = kernel_bind(a->sock, (struct sockaddr *)&addr, sizeof(addr));
	KUNIT_ASSERT_EQ(test, err, 0);
	if (join)
		KUNIT_ASSERT_EQ(test, kt_agent_join(a), 0);
	return a;
}

int kt_agent_join(struct kt_agent *a)
{
	int grp = tlsup_genl_family.mcgrp_offset + HANDSHAKE_HANDLER_CLASS_TLSHD;
	const struct cred *old = NULL;
	int err;

	/* genl_bind() checks the joining task's capabilities. */
	if (a->cred)
		old = override_creds(a->cred);
	err = a->sock->ops->setsockopt(a->sock, SOL_NETLINK,
				       NETLINK_ADD_MEMBERSHIP,
				       KERNEL_SOCKPTR(&grp), sizeof(grp));
	if (a->cred)
		revert_creds(old);
	return err;
}

int kt_agent_broadcast_error(struct kt_agent *a)
{
	int one = 1;

	return a->sock->ops->setsockopt(a->sock, SOL_NETLINK,
					NETLINK_BROADCAST_ERROR,
					KERNEL_SOCKPTR(&one), sizeof(one));
}

void kt_agent_queue_limit(struct kt_agent *a, bool full)
{
	/*
	 * A message is queued while sk_rmem_alloc <= sk_rcvbuf: with 0, the
	 * first one still fits and every later one overruns.
	 */
	if (full) {
		a->saved_rcvbuf = READ_ONCE(a->sock->sk->sk_rcvbuf);
		WRITE_ONCE(a->sock->sk->sk_rcvbuf, 0);
	} else {
		WRITE_ONCE(a->sock->sk->sk_rcvbuf, a->saved_rcvbuf);
	}
}

int kt_put_u32(u8 *buf, int off, u16 type, u32 v)
{
	struct nlattr *nla = (struct nlattr *)(buf + off);

	nla->nla_len = nla_attr_size(sizeof(u32));
	nla->nla_type = type;
	memcpy(nla_data(nla), &v, sizeof(v));
	return off + nla_total_size(sizeof(u32));
}

static void kt_decode_accept(struct genlmsghdr *gh, int len,
			     struct kt_accept *out)
{
	struct nlattr *nla, *inner;
	int rem, irem;

	nla_for_each_attr(nla, (struct nlattr *)((u8 *)gh + GENL_HDRLEN),
			  len - GENL_HDRLEN, rem) {
		int type = nla_type(nla);

		if (out->num_attrs < ARRAY_SIZE(out->order))
			out->order[out->num_attrs++] = type;
		switch (type) {
		case HANDSHAKE_A_ACCEPT_SOCKFD:
			out->fd = nla_get_s32(nla);
			break;
		case HANDSHAKE_A_ACCEPT_MESSAGE_TYPE:
			out->msg_type = nla_get_u32(nla);
			break;
		case HANDSHAKE_A_ACCEPT_AUTH_MODE:
			out->auth_mode = nla_get_u32(nla);
			break;
		case HANDSHAKE_A_ACCEPT_TIMEOUT:
			out->timeout_ms = nla_get_u32(nla);
			out->has_timeout = true;
			break;
		case HANDSHAKE_A_ACCEPT_KEYRING:
			out->keyring = nla_get_u32(nla);
			out->has_keyring = true;
			break;
		case HANDSHAKE_A_ACCEPT_PEERNAME:
			nla_strscpy(out->peername, nla, sizeof(out->peername));
			out->has_peername = true;
			break;
		case HANDSHAKE_A_ACCEPT_PEER_IDENTITY:
			if (out->num_peerids < ARRAY_SIZE(out->peerids))
				out->peerids[out->num_peerids++] =
					nla_get_u32(nla);
			break;
		case HANDSHAKE_A_ACCEPT_CERTIFICATE:
			out->has_cert = true;
			nla_for_each_nested(inner, nla, irem) {
				if (nla_type(inner) == HANDSHAKE_A_X509_CERT)
					out->cert = nla_get_s32(inner);
				else if (nla_type(inner) ==
					 HANDSHAKE_A_X509_PRIVKEY)
					out->privkey = nla_get_s32(inner);
			}
			break;
		}
	}
}

/*
 * Reads what is queued on the agent's socket: READY notifications are
 * counted, a reply for @seq is decoded into @reply, and the ack for @seq
 * gives the return value (1 if no ack was found).
 */
static int kt_recv(struct kt_agent *a, u32 seq, struct kt_accept *reply)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	/* Allocated with the agent: a receive never fails for memory. */
	u8 *buf = a->rxbuf;
	struct kvec iov;
	int ret = 1;

	for (;;) {
		struct nlmsghdr *nlh;
		int len, rem;

		iov.iov_base = buf;
		iov.iov_len = KT_BUF;
		len = kernel_recvmsg(a->sock, &msg, &iov, 1, KT_BUF,
				     MSG_DONTWAIT);
		/* An overrun is reported once, ahead of what is queued. */
		if (len == -ENOBUFS) {
			a->overruns++;
			continue;
		}
		if (len <= 0)
			break;
		rem = len;
		for (nlh = (struct nlmsghdr *)buf; nlmsg_ok(nlh, rem);
		     nlh = nlmsg_next(nlh, &rem)) {
			struct genlmsghdr *gh = nlmsg_data(nlh);

			if (nlh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = nlmsg_data(nlh);

				if (nlh->nlmsg_seq == seq)
					ret = e->error;
				continue;
			}
			if (nlh->nlmsg_type != tlsup_genl_family.id)
				continue;
			if (gh->cmd == HANDSHAKE_CMD_READY) {
				a->ready_seen++;
				continue;
			}
			if (reply && nlh->nlmsg_seq == seq)
				kt_decode_accept(gh, nlmsg_len(nlh), reply);
		}
		if (ret != 1)
			break;
	}
	return ret;
}

int kt_send(struct kt_agent *a, u8 cmd, const void *attrs, int len,
	    struct kt_accept *reply)
{
	return kt_send_hdr(a, cmd, 0, attrs, len, reply);
}

int kt_send_hdr(struct kt_agent *a, u8 cmd, u16 reserved, const void *attrs,
		int len, struct kt_accept *reply)
{
	struct sockaddr_nl dst = { .nl_family = AF_NETLINK };
	struct msghdr msg = {
		.msg_name = &dst,
		.msg_namelen = sizeof(dst),
	};
	struct nlmsghdr *nlh;
	struct genlmsghdr *gh;
	struct kvec iov;
	int total, ret;
	u8 *buf;

	total = NLMSG_HDRLEN + GENL_HDRLEN + len;
	buf = kzalloc(total, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	nlh = (struct nlmsghdr *)buf;
	nlh->nlmsg_len = total;
	nlh->nlmsg_type = tlsup_genl_family.id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++a->seq;
	gh = nlmsg_data(nlh);
	gh->cmd = cmd;
	gh->version = HANDSHAKE_FAMILY_VERSION;
	gh->reserved = reserved;
	memcpy(buf + NLMSG_HDRLEN + GENL_HDRLEN, attrs, len);

	if (reply) {
		memset(reply, 0, sizeof(*reply));
		reply->fd = -1;
	}
	iov.iov_base = buf;
	iov.iov_len = total;
	if (a->cred) {
		const struct cred *old = override_creds(a->cred);

		ret = kernel_sendmsg(a->sock, &msg, &iov, 1, total);
		revert_creds(old);
	} else {
		ret = kernel_sendmsg(a->sock, &msg, &iov, 1, total);
	}
	kfree(buf);
	if (ret < 0)
		return ret;
	/* genetlink ran the command in this thread: the answer is queued. */
	ret = kt_recv(a, a->seq, reply);
	if (reply) {
		reply->err = ret;
		/* Every fd an ACCEPT hands out is closed at the case's end. */
		if (ret == 0 && reply->fd >= 0)
			kt_track_fd(a->test, reply->fd);
	}
	return ret;
}

int kt_accept_class(struct kt_agent *a, u32 class_, struct kt_accept *out)
{
	u8 attrs[8];
	int len = kt_put_u32(attrs, 0, HANDSHAKE_A_ACCEPT_HANDLER_CLASS, class_);

	return kt_send(a, HANDSHAKE_CMD_ACCEPT, attrs, len, out);
}

int kt_accept(struct kt_agent *a, struct kt_accept *out)
{
	return kt_accept_class(a, HANDSHAKE_HANDLER_CLASS_TLSHD, out);
}

int kt_done(struct kt_agent *a, int fd, int status, const u32 *remote,
	    int num_remote)
{
	u8 attrs[128];
	int len = 0, i;

	len = kt_put_u32(attrs, len, HANDSHAKE_A_DONE_SOCKFD, fd);
	if (status >= 0)
		len = kt_put_u32(attrs, len, HANDSHAKE_A_DONE_STATUS, status);
	for (i = 0; i < num_remote && i < 8; i++)
		len = kt_put_u32(attrs, len, HANDSHAKE_A_DONE_REMOTE_AUTH,
				 remote[i]);
	return kt_send(a, HANDSHAKE_CMD_DONE, attrs, len, NULL);
}

int kt_drain_ready(struct kt_agent *a)
{
	int before = a->ready_seen;

	kt_recv(a, 0, NULL);
	return a->ready_seen - before;
}

bool kt_destructor_is_ours(struct kt_consumer *c)
{
	return c->sock->sk->sk_destruct == kt_sk_destruct;
}

void kt_stats(struct net *net, struct tlsup_stats *st)
{
	tlsup_kunit_net_stats(net, st);
}

int kt_read_int(const char *path)
{
	char buf[32] = {};
	struct file *f;
	loff_t pos = 0;
	int v = -1;

	f = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(f))
		return -1;
	if (kernel_read(f, buf, sizeof(buf) - 1, &pos) > 0 &&
	    kstrtoint(strim(buf), 10, &v))
		v = -1;
	fput(f);
	return v;
}

int kt_tlsup_module_refs(void)
{
	return kt_read_int("/sys/module/tlsup/refcnt");
}

struct net *kt_test_netns(struct kunit *test)
{
	int pid = kt_read_int(KT_NETNS_PID_FILE);
	struct net *net;

	KUNIT_ASSERT_GT_MSG(test, pid, 0, "no pid in %s", KT_NETNS_PID_FILE);
	net = get_net_ns_by_pid(pid);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, net);
	KUNIT_ASSERT_PTR_NE(test, net, &init_net);
	return net;
}
