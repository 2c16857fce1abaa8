// SPDX-License-Identifier: GPL-2.0
/*
 * tlsup_testmod sessions: connect (or accept), request a handshake, then
 * exchange data over kTLS, reading each record's type from its control
 * message as NFS and NVMe do. A session waits for its callback without
 * holding a worker: the callback queues the data phase.
 */

#include <linux/file.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ktime.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <uapi/linux/tls.h>

#include "testmod.h"

#define TM_CHUNK 16384
#define TM_IO_TIMEOUT_MS 15000

struct workqueue_struct *tm_wq;

static u8 tm_pattern(u64 off)
{
	return (u8)(off * 131 + 17);
}

static void tm_error(struct tm_session *s, const char *fmt, int err)
{
	if (!s->error[0])
		snprintf(s->error, sizeof(s->error), fmt, err);
}

static void tm_client_start_next(struct tm_group *g);
static void tm_client_work(struct work_struct *work);

static void tm_finish(struct tm_session *s)
{
	struct tm_group *g = s->group;

	if (atomic_xchg(&s->finished, 1))
		return;
	s->phase = TM_DONE;
	if (atomic_dec_and_test(&g->remaining)) {
		g->t_done = ktime_get();
		complete_all(&g->all_done);
	} else if (!g->spec.server) {
		/* A slot freed: keep spec.concurrency sessions going. */
		tm_client_start_next(g);
	}
}

static void tm_release_socket(struct tm_session *s)
{
	if (s->file) {
		fput(s->file);
		s->file = NULL;
	}
}

/* May run in any context: record, then hand the rest to a worker. */
static void tm_handshake_done(void *data, int status, key_serial_t peerid)
{
	struct tm_session *s = data;

	s->status = status;
	s->peerid = peerid;
	s->t_callback = ktime_get();
	atomic_inc(&s->calls);
	complete(&s->callback_done);
	queue_work(tm_wq, &s->data_work);
}

static int tm_send_all(struct tm_session *s, u64 total)
{
	u8 *buf = kmalloc(TM_CHUNK, GFP_KERNEL);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (s->sent < total) {
		struct msghdr msg = {};
		struct kvec iov;
		size_t n = min_t(u64, TM_CHUNK, total - s->sent), i;

		for (i = 0; i < n; i++)
			buf[i] = tm_pattern(s->sent + i);
		iov.iov_base = buf;
		iov.iov_len = n;
		ret = kernel_sendmsg(s->sock, &msg, &iov, 1, n);
		if (ret <= 0) {
			tm_error(s, "send failed: %d", ret);
			ret = ret ? ret : -EPIPE;
			break;
		}
		s->sent += ret;
		ret = 0;
	}
	kfree(buf);
	return ret;
}

/*
 * Reads one record (or part of one). Returns the data bytes read, 0 at the
 * end of the stream or after close_notify, or a negative errno. Handshake
 * records (NewSessionTicket) and other non-data records are counted and
 * skipped; an alert is decoded.
 */
static int tm_recv_record(struct tm_session *s, u8 *buf, size_t len)
{
	u8 cbuf[CMSG_SPACE(sizeof(u8))] = {};
	struct msghdr msg = {
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	struct kvec iov = { .iov_base = buf, .iov_len = len };
	u8 type = TLS_RECORD_TYPE_DATA;
	int ret;

	ret = kernel_recvmsg(s->sock, &msg, &iov, 1, len, 0);
	if (ret <= 0)
		return ret;
	if (msg.msg_controllen < sizeof(cbuf)) {
		cmsg = (struct cmsghdr *)cbuf;
		type = tls_get_record_type(s->sock->sk, cmsg);
		if (!type)
			type = TLS_RECORD_TYPE_DATA;
	}
	switch (type) {
	case TLS_RECORD_TYPE_DATA:
		s->rec_data++;
		return ret;
	case TLS_RECORD_TYPE_HANDSHAKE:
		s->rec_handshake++;
		return -EAGAIN;
	case TLS_RECORD_TYPE_ALERT:
		s->rec_alert++;
		/* tls_alert_recv() reads the bytes through the message's kvec. */
		iov_iter_kvec(&msg.msg_iter, ITER_DEST, &iov, 1, ret);
		tls_alert_recv(s->sock->sk, &msg, &s->alert_level, &s->alert_desc);
		return 0;
	default:
		s->rec_other++;
		return -EAGAIN;
	}
}

static int tm_recv_check(struct tm_session *s, u64 total, bool echo_back)
{
	u8 *buf = kmalloc(TM_CHUNK, GFP_KERNEL);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (echo_back || s->received < total) {
		size_t want = echo_back ? TM_CHUNK :
			      min_t(u64, TM_CHUNK, total - s->received);
		size_t i;

		ret = tm_recv_record(s, buf, want);
		if (ret == -EAGAIN)
			continue;
		if (ret == 0) {
			if (!echo_back)
				tm_error(s, "stream ended early (%d)", 0);
			break;
		}
		if (ret < 0) {
			tm_error(s, "receive failed: %d", ret);
			break;
		}
		if (!echo_back) {
			for (i = 0; i < ret; i++) {
				if (buf[i] != tm_pattern(s->received + i)) {
					tm_error(s, "data mismatch at byte %d", (int)(s->received + i));
					ret = -EBADMSG;
					goto out;
				}
			}
			s->received += ret;
			continue;
		}
		/* Server echo: send the record's data straight back. */
		{
			struct msghdr msg = {};
			struct kvec iov = { .iov_base = buf, .iov_len = ret };
			int n;

			s->received += ret;
			n = kernel_sendmsg(s->sock, &msg, &iov, 1, ret);
			if (n != ret) {
				tm_error(s, "echo send failed: %d", n);
				ret = n < 0 ? n : -EPIPE;
				break;
			}
			s->sent += n;
			if (total && s->received >= total)
				break;
		}
	}
	if (ret > 0)
		ret = 0;
out:
	kfree(buf);
	return ret;
}

/* Runs after the callback: the socket is the consumer's again. */
static void tm_data_work(struct work_struct *work)
{
	struct tm_session *s = container_of(work, struct tm_session, data_work);
	const struct tm_spec *spec = &s->group->spec;

	cancel_delayed_work_sync(&s->guard_work);
	cancel_delayed_work_sync(&s->cancel_work);
	cancel_delayed_work_sync(&s->close_work);
	if (atomic_read(&s->finished))
		return;
	if (s->status || !s->file)
		goto out;

	s->phase = TM_DATA;
	s->sock->sk->sk_rcvtimeo = msecs_to_jiffies(TM_IO_TIMEOUT_MS);
	s->sock->sk->sk_sndtimeo = msecs_to_jiffies(TM_IO_TIMEOUT_MS);
	if (spec->echo) {
		tm_recv_check(s, spec->recv, true);
	} else {
		/* Interleave so neither side's buffers fill: send, then read. */
		if (spec->send && tm_send_all(s, spec->send) == 0 && spec->recv)
			tm_recv_check(s, spec->recv, false);
		else if (!spec->send && spec->recv)
			tm_recv_check(s, spec->recv, false);
	}
	if (spec->cancel_after_done)
		s->cancel_result = tls_handshake_cancel(s->sock->sk);
	tls_handshake_close(s->sock);
out:
	tm_release_socket(s);
	tm_finish(s);
}

static void tm_cancel_work(struct work_struct *work)
{
	struct tm_session *s = container_of(to_delayed_work(work),
					    struct tm_session, cancel_work);

	if (completion_done(&s->callback_done))
		return;
	s->cancel_result = tls_handshake_cancel(s->sk);
	if (s->cancel_result == 1) {
		/* The callback will never run: the session ends here. */
		cancel_delayed_work(&s->guard_work);
		tm_release_socket(s);
		tm_finish(s);
	}
}

static void tm_close_work(struct work_struct *work)
{
	struct tm_session *s = container_of(to_delayed_work(work),
					    struct tm_session, close_work);

	if (completion_done(&s->callback_done))
		return;
	/* Release our file mid-handshake; the request's pin keeps it alive. */
	s->closed_early = true;
	tm_release_socket(s);
}

static void tm_guard_work(struct work_struct *work)
{
	struct tm_session *s = container_of(to_delayed_work(work),
					    struct tm_session, guard_work);

	if (completion_done(&s->callback_done) || atomic_read(&s->finished))
		return;
	tm_error(s, "no callback within %d ms", s->group->spec.wait_ms);
	tm_finish(s);
}

static int tm_submit(struct tm_session *s)
{
	const struct tm_spec *spec = &s->group->spec;
	struct tls_handshake_args args = {
		.ta_sock = s->sock,
		.ta_done = tm_handshake_done,
		.ta_data = s,
		.ta_peername = spec->peername[0] ? spec->peername : NULL,
		.ta_timeout_ms = spec->timeout_ms,
		.ta_keyring = spec->keyring,
		.ta_my_cert = spec->cert,
		.ta_my_privkey = spec->privkey,
		.ta_num_peerids = spec->num_peerids,
	};
	int ret;

	memcpy(args.ta_my_peerids, spec->peerids, sizeof(args.ta_my_peerids));
	s->phase = TM_HANDSHAKE;
	s->t_submit = ktime_get();
	switch (spec->auth) {
	case TM_X509:
		ret = spec->server ? tls_server_hello_x509(&args, GFP_KERNEL) :
				     tls_client_hello_x509(&args, GFP_KERNEL);
		break;
	case TM_PSK:
		ret = spec->server ? tls_server_hello_psk(&args, GFP_KERNEL) :
				     tls_client_hello_psk(&args, GFP_KERNEL);
		break;
	default:
		ret = tls_client_hello_anon(&args, GFP_KERNEL);
		break;
	}
	if (ret) {
		s->status = ret;
		tm_error(s, "hello refused: %d", ret);
		return ret;
	}
	s->submitted = true;
	queue_delayed_work(tm_wq, &s->guard_work, msecs_to_jiffies(spec->wait_ms));
	if (spec->cancel_ms >= 0)
		queue_delayed_work(tm_wq, &s->cancel_work,
				   msecs_to_jiffies(spec->cancel_ms));
	if (spec->close_ms >= 0)
		queue_delayed_work(tm_wq, &s->close_work,
				   msecs_to_jiffies(spec->close_ms));
	return 0;
}

/* Gives @sock a file (the API requires one) and starts the handshake. */
static void tm_session_begin(struct tm_session *s, struct socket *sock)
{
	s->sock = sock;
	s->file = sock_alloc_file(sock, 0, NULL);
	if (IS_ERR(s->file)) {
		tm_error(s, "sock_alloc_file: %d", (int)PTR_ERR(s->file));
		s->file = NULL;
		s->sock = NULL;
		tm_finish(s);
		return;
	}
	s->sk = sock->sk;
	sock_hold(s->sk);
	if (tm_submit(s)) {
		tm_release_socket(s);
		tm_finish(s);
	}
}

static struct tm_session *tm_session_new(struct tm_group *g, int index)
{
	struct tm_session *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->group = g;
	s->index = index;
	s->cancel_result = -1;
	init_completion(&s->callback_done);
	INIT_WORK(&s->data_work, tm_data_work);
	INIT_WORK(&s->start_work, tm_client_work);
	INIT_DELAYED_WORK(&s->cancel_work, tm_cancel_work);
	INIT_DELAYED_WORK(&s->close_work, tm_close_work);
	INIT_DELAYED_WORK(&s->guard_work, tm_guard_work);
	return s;
}

static void tm_client_start(struct tm_session *s)
{
	const struct tm_spec *spec = &s->group->spec;
	struct socket *sock;
	int ret;

	s->phase = TM_CONNECTING;
	ret = sock_create_kern(s->group->net, spec->family, SOCK_STREAM,
			       IPPROTO_TCP, &sock);
	if (ret) {
		tm_error(s, "socket: %d", ret);
		tm_finish(s);
		return;
	}
	ret = kernel_connect(sock, (struct sockaddr *)&spec->addr,
			     spec->addrlen, 0);
	if (!ret && spec->preset_ulp)
		/* The agent's own TCP_ULP then fails: its kTLS set-up, not the handshake. */
		ret = sock->ops->setsockopt(sock, SOL_TCP, TCP_ULP,
					    KERNEL_SOCKPTR("tls"), sizeof("tls"));
	if (ret) {
		tm_error(s, "connect: %d", ret);
		sock_release(sock);
		tm_finish(s);
		return;
	}
	tm_session_begin(s, sock);
}

/*
 * The session's own work item, not a detached allocation: tm_group_free()
 * must wait for a start still in kernel_connect() (or not yet run) before
 * the session goes, or the start writes into freed memory.
 */
static void tm_client_work(struct work_struct *work)
{
	tm_client_start(container_of(work, struct tm_session, start_work));
}

/*
 * Starts the group's next session, if any is left and the group is not
 * being freed: the pick and the queueing under start_lock, so that
 * tm_group_free() flushes every start ever queued.
 */
static void tm_client_start_next(struct tm_group *g)
{
	int i;

	spin_lock(&g->start_lock);
	if (!g->stopping) {
		i = atomic_inc_return(&g->next_start) - 1;
		if (i < g->spec.count)
			queue_work(tm_wq, &g->sessions[i]->start_work);
	}
	spin_unlock(&g->start_lock);
}

/* Accepts spec->count connections and starts a server session on each. */
static void tm_accept_work(struct work_struct *work)
{
	struct tm_group *g = container_of(work, struct tm_group, accept_work);
	unsigned int i;

	for (i = 0; i < g->spec.count; i++) {
		struct tm_session *s = g->sessions[i];
		struct socket *sock;
		int ret;

		s->phase = TM_CONNECTING;
		ret = kernel_accept(g->listener, &sock, 0);
		if (ret) {
			tm_error(s, "accept: %d", ret);
			tm_finish(s);
			continue;
		}
		tm_session_begin(s, sock);
	}
}

static int tm_listen(struct tm_group *g)
{
	struct socket *l;
	int ret, one = 1;

	ret = sock_create_kern(g->net, g->spec.family, SOCK_STREAM, IPPROTO_TCP, &l);
	if (ret)
		return ret;
	sock_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, KERNEL_SOCKPTR(&one), sizeof(one));
	ret = kernel_bind(l, (struct sockaddr *)&g->spec.addr, g->spec.addrlen);
	if (!ret)
		ret = kernel_listen(l, 1024);
	if (ret) {
		sock_release(l);
		return ret;
	}
	/* accept() gives up when the peers do not come. */
	l->sk->sk_rcvtimeo = msecs_to_jiffies(g->spec.wait_ms);
	g->listener = l;
	return 0;
}

struct tm_group *tm_group_start(const struct tm_spec *spec, int *err)
{
	struct tm_group *g;
	unsigned int i;

	g = kzalloc(struct_size(g, sessions, spec->count), GFP_KERNEL);
	if (!g) {
		*err = -ENOMEM;
		return NULL;
	}
	g->spec = *spec;
	g->net = get_net(current->nsproxy->net_ns);
	atomic_set(&g->remaining, spec->count);
	init_completion(&g->all_done);
	spin_lock_init(&g->start_lock);
	INIT_LIST_HEAD(&g->node);
	for (i = 0; i < spec->count; i++) {
		g->sessions[i] = tm_session_new(g, i);
		if (!g->sessions[i]) {
			*err = -ENOMEM;
			goto fail;
		}
	}
	g->t_start = ktime_get();
	if (spec->server) {
		*err = tm_listen(g);
		if (*err)
			goto fail;
		INIT_WORK(&g->accept_work, tm_accept_work);
		queue_work(tm_wq, &g->accept_work);
		return g;
	}
	g->t_start = ktime_get();
	atomic_set(&g->next_start, 0);
	for (i = 0; i < (spec->concurrency ?: spec->count) && i < spec->count; i++)
		tm_client_start_next(g);
	return g;

fail:
	for (i = 0; i < spec->count; i++)
		kfree(g->sessions[i]);
	put_net(g->net);
	kfree(g);
	return NULL;
}

int tm_group_wait(struct tm_group *g, unsigned int timeout_ms)
{
	long left = wait_for_completion_interruptible_timeout(&g->all_done,
							      msecs_to_jiffies(timeout_ms));

	if (left < 0)
		return left;
	return left ? 0 : -ETIMEDOUT;
}

/* Cancels every session still waiting for its callback. */
void tm_group_cancel(struct tm_group *g)
{
	unsigned int i;

	for (i = 0; i < g->spec.count; i++) {
		struct tm_session *s = g->sessions[i];

		if (s->sk && s->submitted && !completion_done(&s->callback_done))
			mod_delayed_work(tm_wq, &s->cancel_work, 0);
	}
}

/*
 * Frees a group. A request still in flight references its session: cancel
 * it, or wait for its callback, before the memory goes.
 */
void tm_group_free(struct tm_group *g)
{
	unsigned int i;

	if (g->listener)
		kernel_sock_shutdown(g->listener, SHUT_RDWR);
	if (g->spec.server)
		flush_work(&g->accept_work);
	/*
	 * No start is queued from here on (a client's later starts are queued
	 * by its earlier sessions' ends). One queued already may be in
	 * kernel_connect(): it is waited for, and a session it submitted is
	 * then cancelled or waited for below like the others.
	 */
	spin_lock(&g->start_lock);
	g->stopping = true;
	spin_unlock(&g->start_lock);
	if (!g->spec.server)
		for (i = 0; i < g->spec.count; i++)
			flush_work(&g->sessions[i]->start_work);
	for (i = 0; i < g->spec.count; i++) {
		struct tm_session *s = g->sessions[i];

		cancel_delayed_work_sync(&s->cancel_work);
		cancel_delayed_work_sync(&s->close_work);
		cancel_delayed_work_sync(&s->guard_work);
		if (s->submitted && !completion_done(&s->callback_done) &&
		    s->cancel_result != 1 && !tls_handshake_cancel(s->sk))
			wait_for_completion(&s->callback_done);
		flush_work(&s->data_work);
	}
	/* Only now: another session's end may have touched this one's group. */
	for (i = 0; i < g->spec.count; i++) {
		struct tm_session *s = g->sessions[i];

		tm_release_socket(s);
		if (s->sk)
			sock_put(s->sk);
		kfree(s);
	}
	if (g->listener)
		sock_release(g->listener);
	put_net(g->net);
	kfree(g);
}

static const char *const tm_phase_names[] = {
	[TM_NEW] = "new", [TM_CONNECTING] = "connecting",
	[TM_HANDSHAKE] = "handshake", [TM_DATA] = "data", [TM_DONE] = "done",
};

void tm_group_format(struct tm_group *g, char *buf, size_t len)
{
	s64 us = g->t_done ? ktime_us_delta(g->t_done, g->t_start) : -1;

	snprintf(buf, len, "group=%d summary sessions=%u remaining=%d elapsed_us=%lld\n",
		 g->spec.id, g->spec.count, atomic_read(&g->remaining), us);
}

void tm_session_format(struct tm_session *s, char *buf, size_t len)
{
	s64 hs_us = s->t_callback ? ktime_us_delta(s->t_callback, s->t_submit) : -1;

	snprintf(buf, len,
		 "group=%d idx=%d role=%s phase=%s status=%d peerid=%d calls=%d cancel=%d closed=%d sent=%llu received=%llu rec_data=%u rec_handshake=%u rec_alert=%u rec_other=%u alert=%u/%u hs_us=%lld error=%s\n",
		 s->group->spec.id, s->index,
		 s->group->spec.server ? "server" : "client",
		 tm_phase_names[s->phase], s->status, s->peerid,
		 atomic_read(&s->calls), s->cancel_result, s->closed_early,
		 s->sent, s->received, s->rec_data, s->rec_handshake,
		 s->rec_alert, s->rec_other, s->alert_level, s->alert_desc,
		 hs_us, s->error[0] ? s->error : "-");
}
