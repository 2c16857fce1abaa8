// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: ACCEPT and DONE through genetlink with real messages
 * (DESIGN §1, §2.3, §2.4).
 */

#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/key.h>
#include <linux/cred.h>
#include <linux/key-type.h>
#include <uapi/linux/keyctl.h>

#include "harness.h"
#include "suites.h"

static bool kt_fd_cloexec(int fd)
{
	bool ret;

	rcu_read_lock();
	ret = tlsup_close_on_exec(fd, current->files);
	rcu_read_unlock();
	return ret;
}

static void genl_accept_reply_x509(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	static const u16 want[] = {
		HANDSHAKE_A_ACCEPT_SOCKFD, HANDSHAKE_A_ACCEPT_MESSAGE_TYPE,
		HANDSHAKE_A_ACCEPT_PEERNAME, HANDSHAKE_A_ACCEPT_TIMEOUT,
		HANDSHAKE_A_ACCEPT_AUTH_MODE, HANDSHAKE_A_ACCEPT_CERTIFICATE,
	};
	struct kt_accept acc;
	struct file *f;
	int i;

	c->args.ta_peername = "storage.example.net";
	c->args.ta_timeout_ms = 20000;
	c->args.ta_my_cert = 1111;
	c->args.ta_my_privkey = 2222;
	KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);

	KUNIT_ASSERT_EQ(test, acc.num_attrs, (int)ARRAY_SIZE(want));
	for (i = 0; i < ARRAY_SIZE(want); i++)
		KUNIT_EXPECT_EQ(test, acc.order[i], want[i]);
	KUNIT_EXPECT_EQ(test, acc.msg_type, HANDSHAKE_MSG_TYPE_CLIENTHELLO);
	KUNIT_EXPECT_EQ(test, acc.auth_mode, HANDSHAKE_AUTH_X509);
	KUNIT_EXPECT_STREQ(test, acc.peername, "storage.example.net");
	KUNIT_EXPECT_EQ(test, acc.timeout_ms, 20000U);
	KUNIT_EXPECT_EQ(test, acc.cert, 1111);
	KUNIT_EXPECT_EQ(test, acc.privkey, 2222);

	/* The fd is live in this process, close-on-exec, on the consumer's file. */
	KUNIT_ASSERT_GE(test, acc.fd, 0);
	f = fget(acc.fd);
	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_EXPECT_PTR_EQ(test, f, c->sock->file);
	fput(f);
	KUNIT_EXPECT_TRUE(test, kt_fd_cloexec(acc.fd));
}

/*
 * The certificate nest goes out when either serial is set (omitted only
 * when both are 0), each with its own value.
 */
static void genl_accept_reply_x509_one_serial(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *cert = kt_consumer(test, NULL);
	struct kt_consumer *key = kt_consumer(test, NULL);
	struct kt_consumer *none = kt_consumer(test, NULL);
	struct kt_accept acc;

	cert->args.ta_my_cert = 3333;
	key->args.ta_my_privkey = 4444;
	KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&cert->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&key->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&none->args, GFP_KERNEL), 0);

	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_TRUE(test, acc.has_cert);
	KUNIT_EXPECT_EQ(test, acc.cert, 3333);
	KUNIT_EXPECT_EQ(test, acc.privkey, 0);

	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_TRUE(test, acc.has_cert);
	KUNIT_EXPECT_EQ(test, acc.cert, 0);
	KUNIT_EXPECT_EQ(test, acc.privkey, 4444);

	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_FALSE(test, acc.has_cert);
}

static void genl_accept_reply_psk_and_anon(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *psk = kt_consumer(test, NULL);
	struct kt_consumer *anon = kt_consumer(test, NULL);
	struct kt_consumer *srv = kt_consumer(test, NULL);
	struct kt_accept acc;

	psk->args.ta_num_peerids = 3;
	psk->args.ta_my_peerids[0] = 11;
	psk->args.ta_my_peerids[1] = 12;
	psk->args.ta_my_peerids[2] = 13;
	srv->args.ta_my_peerids[0] = 77;
	KUNIT_ASSERT_EQ(test, tls_client_hello_psk(&psk->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&anon->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, tls_server_hello_psk(&srv->args, GFP_KERNEL), 0);

	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_EQ(test, acc.auth_mode, HANDSHAKE_AUTH_PSK);
	KUNIT_ASSERT_EQ(test, acc.num_peerids, 3);
	KUNIT_EXPECT_EQ(test, acc.peerids[2], 13U);
	KUNIT_EXPECT_FALSE(test, acc.has_cert);

	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_EQ(test, acc.auth_mode, HANDSHAKE_AUTH_UNAUTH);
	KUNIT_EXPECT_EQ(test, acc.num_attrs, 3);
	KUNIT_EXPECT_FALSE(test, acc.has_peername);
	KUNIT_EXPECT_FALSE(test, acc.has_timeout);

	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_EQ(test, acc.msg_type, HANDSHAKE_MSG_TYPE_SERVERHELLO);
	KUNIT_ASSERT_EQ(test, acc.num_peerids, 1);
	KUNIT_EXPECT_EQ(test, acc.peerids[0], 77U);
}

static void genl_accept_empty_is_eagain(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_accept acc;

	KUNIT_EXPECT_EQ(test, kt_accept(agent, &acc), -EAGAIN);
	KUNIT_EXPECT_EQ(test, kt_accept_class(agent, HANDSHAKE_HANDLER_CLASS_NONE,
					      &acc), -EAGAIN);
}

static void genl_accept_without_class_is_einval(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;
	struct tlsup_stats st;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, kt_send(agent, HANDSHAKE_CMD_ACCEPT, NULL, 0, &acc),
			-EINVAL);
	/* Out of range: refused by the attribute policy, as upstream. */
	KUNIT_EXPECT_EQ(test, kt_accept_class(agent, HANDSHAKE_HANDLER_CLASS_MAX + 1,
					      &acc), -ERANGE);
	kt_stats(&init_net, &st);
	KUNIT_EXPECT_EQ(test, st.pending, 1U);
}

static void genl_unknown_command_is_refused(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);

	KUNIT_EXPECT_EQ(test, kt_send(agent, 42, NULL, 0, NULL), -EOPNOTSUPP);
	/* READY is a notification, not a command. */
	KUNIT_EXPECT_EQ(test, kt_send(agent, HANDSHAKE_CMD_READY, NULL, 0, NULL),
			-EOPNOTSUPP);
}

static void genl_accept_needs_cap_net_admin(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_agent *user = kt_agent(test, NULL, false, false);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, kt_accept(user, &acc), -EPERM);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
}

static void genl_done_needs_cap_net_admin(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_agent *user = kt_agent(test, NULL, false, false);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_EQ(test, kt_done(user, acc.fd, 0, NULL, 0), -EPERM);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 0);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
}

static void genl_done_delivers_status_and_first_peer(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	static const u32 remote[] = { 501, 502, 503 };
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_server_hello_x509(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_ASSERT_EQ(test, kt_done(agent, acc.fd, 0, remote, 3), 0);
	KUNIT_ASSERT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
	KUNIT_EXPECT_EQ(test, c->status, 0);
	KUNIT_EXPECT_EQ(test, c->peerid, 501);
	KUNIT_EXPECT_EQ(test, kt_sk_refs(c), 1);
}

/*
 * More REMOTE_AUTH attributes than the request keeps: the consumer gets the
 * first, and the decoder stays within its array (KASAN watches the stack).
 */
static void genl_done_keeps_first_of_many_peers(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	static const u32 remote[] = { 601, 602, 603, 604, 605, 606, 607, 608 };
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_server_hello_x509(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_ASSERT_EQ(test, kt_done(agent, acc.fd, 0, remote,
				      ARRAY_SIZE(remote)), 0);
	KUNIT_ASSERT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
	KUNIT_EXPECT_EQ(test, c->status, 0);
	KUNIT_EXPECT_EQ(test, c->peerid, 601);
}

static void genl_done_status_is_negated(struct kunit *test)
{
	static const int statuses[] = { EACCES, ENOKEY, EKEYREJECTED, ETIMEDOUT,
					EINVAL, ENOMEM, EIO };
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_accept acc;
	int i;

	for (i = 0; i < ARRAY_SIZE(statuses); i++) {
		struct kt_consumer *c = kt_consumer(test, NULL);

		KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&c->args, GFP_KERNEL), 0);
		KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
		kt_track_fd(test, acc.fd);
		KUNIT_ASSERT_EQ(test, kt_done(agent, acc.fd, statuses[i], NULL, 0), 0);
		KUNIT_EXPECT_EQ(test, c->status, -statuses[i]);
		KUNIT_EXPECT_EQ(test, c->peerid, TLS_NO_PEERID);
	}
}

static void genl_done_without_status_is_eio(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_ASSERT_EQ(test, kt_done(agent, acc.fd, -1, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, c->status, -EIO);
}

static void genl_done_oversize_status_is_refused(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 4096, NULL, 0), -ERANGE);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 0);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 4095, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, c->status, -4095);
}

static void genl_done_without_sockfd_is_einval(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	u8 attrs[8];
	int len = kt_put_u32(attrs, 0, HANDSHAKE_A_DONE_STATUS, 0);

	KUNIT_EXPECT_EQ(test, kt_send(agent, HANDSHAKE_CMD_DONE, attrs, len, NULL),
			-EINVAL);
}

static void genl_done_bad_descriptors(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *idle = kt_consumer(test, NULL);
	struct file *nul;
	int fd;

	KUNIT_EXPECT_EQ(test, kt_done(agent, 100000, 0, NULL, 0), -EBADF);
	nul = filp_open("/dev/null", O_RDONLY, 0);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, nul);
	fd = get_unused_fd_flags(O_CLOEXEC);
	KUNIT_ASSERT_GE(test, fd, 0);
	fd_install(fd, nul);
	kt_track_fd(test, fd);
	KUNIT_EXPECT_EQ(test, kt_done(agent, fd, 0, NULL, 0), -ENOTSOCK);

	/* A socket without a request. */
	get_file(idle->file);
	fd = get_unused_fd_flags(O_CLOEXEC);
	KUNIT_ASSERT_GE(test, fd, 0);
	fd_install(fd, idle->file);
	kt_track_fd(test, fd);
	KUNIT_EXPECT_EQ(test, kt_done(agent, fd, 0, NULL, 0), -EBUSY);
}

static void genl_done_for_pending_request_is_refused(struct kunit *test)
{
	/* Closes upstream 6.12's DONE-before-ACCEPT use-after-free. */
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;
	struct tlsup_stats st;
	int fd;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	get_file(c->file);
	fd = get_unused_fd_flags(O_CLOEXEC);
	KUNIT_ASSERT_GE(test, fd, 0);
	fd_install(fd, c->file);
	kt_track_fd(test, fd);
	KUNIT_EXPECT_EQ(test, kt_done(agent, fd, 0, NULL, 0), -EBUSY);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 0);
	kt_stats(&init_net, &st);
	KUNIT_EXPECT_EQ(test, st.pending, 1U);
	/* The request is intact and completes normally. */
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
}

static void genl_second_done_is_noop(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, EACCES, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
	KUNIT_EXPECT_EQ(test, c->status, 0);
}

/*
 * An ended request lives until its socket is destroyed; /proc/net/tlsup
 * lists it with how it ended and what holds the socket (the CI's genl-fuzz
 * once saw "live: 1" with an empty list and nothing to go on). The text
 * comes from the same function the proc file shows, with the real shim's
 * socket fields.
 */
static void genl_proc_lists_ended_request_and_its_socket(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	const size_t size = 16384;
	struct kt_accept acc;
	char *buf, *line, *end;

	buf = kunit_kzalloc(test, size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_ASSERT_EQ(test, kt_done(agent, acc.fd, ENOTRECOVERABLE, NULL, 0), 0);
	KUNIT_ASSERT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
	/* A status no other case uses: the line is this request's. */
	KUNIT_ASSERT_GT(test, tlsup_kunit_net_show(&init_net, buf, size), 0);
	end = strstr(buf, "ending=done status=-131 ");
	KUNIT_ASSERT_NOT_NULL_MSG(test, end, "no ended line in:\n%s", buf);
	line = end;
	while (line > buf && line[-1] != '\n')
		line--;
	*strchrnul(end, '\n') = 0;
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, " state=ended type=client auth=anon "),
				  "%s", line);
	/* The consumer's file and the agent's descriptor hold the socket. */
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, " refs=1 "), "%s", line);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, " sk_state=CLOSE "), "%s", line);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, " orphan=0"), "%s", line);
}

static void genl_cancel_after_accept_makes_done_noop(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_TRUE(test, tls_handshake_cancel(c->sock->sk));
	/* The agent's fd still holds the file: the request's pin is gone. */
	KUNIT_EXPECT_EQ(test, kt_file_count(c), 2);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 0);
	/* Asked again: still cancelled, still no callback. */
	KUNIT_EXPECT_TRUE(test, tls_handshake_cancel(c->sock->sk));
}

static void genl_accept_links_consumer_keyring(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	key_ref_t process, found;
	struct kt_accept acc;
	struct key *ring;

	ring = keyring_alloc("tlsup-kunit-ring", GLOBAL_ROOT_UID, GLOBAL_ROOT_GID,
			     current_cred(), KEY_POS_ALL | KEY_USR_ALL,
			     KEY_ALLOC_NOT_IN_QUOTA, NULL, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ring);
	c->args.ta_keyring = key_serial(ring);
	KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_EXPECT_TRUE(test, acc.has_keyring);
	KUNIT_EXPECT_EQ(test, (key_serial_t)acc.keyring, key_serial(ring));
	KUNIT_EXPECT_EQ(test, acc.order[acc.num_attrs - 1],
			(u16)HANDSHAKE_A_ACCEPT_KEYRING);

	/* It is now reachable from the accepting process's keyring. */
	process = lookup_user_key(KEY_SPEC_PROCESS_KEYRING, 0, KEY_NEED_SEARCH);
	KUNIT_ASSERT_FALSE(test, IS_ERR(process));
	found = keyring_search(process, &key_type_keyring, "tlsup-kunit-ring",
			       false);
	KUNIT_EXPECT_FALSE(test, IS_ERR(found));
	if (!IS_ERR(found)) {
		KUNIT_EXPECT_PTR_EQ(test, key_ref_to_ptr(found), ring);
		key_ref_put(found);
	}
	key_unlink(key_ref_to_ptr(process), ring);
	key_ref_put(process);
	key_put(ring);
}

static void genl_accept_failure_after_dequeue_is_eio(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;
	struct tlsup_stats st;
	int ret;

	/* A keyring serial that names nothing: the link fails after dequeue. */
	c->args.ta_keyring = 0x7ffffff0;
	KUNIT_ASSERT_EQ(test, tls_client_hello_x509(&c->args, GFP_KERNEL), 0);
	ret = kt_accept(agent, &acc);
	KUNIT_EXPECT_LT(test, ret, 0);
	KUNIT_EXPECT_EQ(test, acc.fd, -1);
	KUNIT_ASSERT_TRUE(test, kt_wait_done(c, KT_WAIT_MS));
	KUNIT_EXPECT_EQ(test, c->status, -EIO);
	KUNIT_EXPECT_EQ(test, kt_sk_refs(c), 1);
	KUNIT_EXPECT_EQ(test, kt_file_count(c), 1);
	kt_stats(&init_net, &st);
	KUNIT_EXPECT_EQ(test, st.inflight, 0U);
}

static void genl_ready_is_multicast_per_request(struct kunit *test)
{
	struct kt_agent *a1 = kt_agent(test, NULL, true, true);
	struct kt_agent *a2 = kt_agent(test, NULL, true, true);
	struct kt_consumer *c1 = kt_consumer(test, NULL);
	struct kt_consumer *c2 = kt_consumer(test, NULL);

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c1->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c2->args, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, kt_drain_ready(a1), 2);
	KUNIT_EXPECT_EQ(test, kt_drain_ready(a2), 2);
}

static void genl_tracepoints_follow_the_lifecycle(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_probes *p = kt_probes_start(test);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_consumer *d = kt_consumer(test, NULL);
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&d->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	KUNIT_ASSERT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
	KUNIT_EXPECT_TRUE(test, tls_handshake_cancel(d->sock->sk));
	KUNIT_EXPECT_EQ(test, atomic_read(&p->submit), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&p->accept), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&p->done), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&p->complete), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&p->cancel), 1);
}

/* Review finding: resv_start_op = DONE + 1 turned header checks off. */
static void genl_reserved_header_byte_is_einval(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;
	struct tlsup_stats st;
	u8 attrs[16];
	int len;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	len = kt_put_u32(attrs, 0, HANDSHAKE_A_ACCEPT_HANDLER_CLASS,
			 HANDSHAKE_HANDLER_CLASS_TLSHD);
	KUNIT_EXPECT_EQ(test, kt_send_hdr(agent, HANDSHAKE_CMD_ACCEPT, 1, attrs,
					  len, &acc), -EINVAL);
	kt_stats(&init_net, &st);
	KUNIT_EXPECT_EQ(test, st.pending, 1U);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);
	len = kt_put_u32(attrs, 0, HANDSHAKE_A_DONE_SOCKFD, acc.fd);
	KUNIT_EXPECT_EQ(test, kt_send_hdr(agent, HANDSHAKE_CMD_DONE, 0x100,
					  attrs, len, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 0);
	KUNIT_EXPECT_EQ(test, kt_done(agent, acc.fd, 0, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
}

static int kt_put_tag(u8 *buf, int off, const char *tag, int len)
{
	struct nlattr *nla = (struct nlattr *)(buf + off);

	nla->nla_len = nla_attr_size(len);
	nla->nla_type = HANDSHAKE_A_DONE_TAG;
	memcpy(nla_data(nla), tag, len);
	memset((u8 *)nla_data(nla) + len, 0, nla_total_size(len) - nla->nla_len);
	return off + nla_total_size(len);
}

/* Upstream's agent sends TAG with or without the trailing NUL. */
static void genl_done_tag_with_or_without_nul(struct kunit *test)
{
	struct kt_agent *agent = kt_agent(test, NULL, true, true);
	struct kt_consumer *c = kt_consumer(test, NULL);
	static char longtag[300];
	struct kt_accept acc;
	u8 *attrs;
	int len;

	attrs = kunit_kzalloc(test, 512, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, attrs);
	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(agent, &acc), 0);
	kt_track_fd(test, acc.fd);

	/* A tag over 255 bytes is refused; the request is untouched. */
	memset(longtag, 'x', sizeof(longtag));
	len = kt_put_u32(attrs, 0, HANDSHAKE_A_DONE_SOCKFD, acc.fd);
	len = kt_put_tag(attrs, len, longtag, 256);
	KUNIT_EXPECT_LT(test, kt_send(agent, HANDSHAKE_CMD_DONE, attrs, len,
				      NULL), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 0);

	len = kt_put_u32(attrs, 0, HANDSHAKE_A_DONE_SOCKFD, acc.fd);
	len = kt_put_u32(attrs, len, HANDSHAKE_A_DONE_STATUS, 0);
	len = kt_put_tag(attrs, len, "nfs", 4);		/* "nfs\0" */
	len = kt_put_tag(attrs, len, "nvme-tls", 8);	/* no NUL */
	len = kt_put_tag(attrs, len, longtag, 255);
	KUNIT_EXPECT_EQ(test, kt_send(agent, HANDSHAKE_CMD_DONE, attrs, len,
				      NULL), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
	KUNIT_EXPECT_EQ(test, c->status, 0);
}

/*
 * Review finding: any process could join "tlshd", and a submit then found
 * a listener that can never ACCEPT. Joining needs CAP_NET_ADMIN.
 */
static void genl_unprivileged_join_is_refused(struct kunit *test)
{
	struct kt_agent *nobody = kt_agent(test, NULL, false, false);
	struct kt_consumer *c = kt_consumer(test, NULL);

	if (!TLSUP_HAVE_MCAST_ADMIN)
		kunit_skip(test, "kernel cannot restrict multicast joins");
	KUNIT_EXPECT_EQ(test, kt_agent_join(nobody), -EPERM);
	KUNIT_EXPECT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL),
			-ESRCH);
	KUNIT_EXPECT_TRUE(test, kt_destructor_is_ours(c));
}

/* Review finding: DONE ended requests of other namespaces. */
static void genl_done_from_another_namespace_is_refused(struct kunit *test)
{
	struct net *net = kt_test_netns(test);
	struct kt_agent *here = kt_agent(test, NULL, true, true);
	struct kt_agent *there = kt_agent(test, net, true, false);
	struct kt_consumer *c = kt_consumer(test, NULL);
	struct kt_accept acc;

	KUNIT_ASSERT_EQ(test, tls_client_hello_anon(&c->args, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, kt_accept(here, &acc), 0);
	kt_track_fd(test, acc.fd);
	/* The descriptor is the test's; the other namespace's agent names it. */
	KUNIT_EXPECT_EQ(test, kt_done(there, acc.fd, 0, NULL, 0), -EBUSY);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 0);
	KUNIT_EXPECT_EQ(test, kt_done(here, acc.fd, 0, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->calls), 1);
	kt_forget_agent(there);
	put_net(net);
}

static struct kunit_case genl_cases[] = {
	KUNIT_CASE(genl_accept_reply_x509),
	KUNIT_CASE(genl_accept_reply_x509_one_serial),
	KUNIT_CASE(genl_accept_reply_psk_and_anon),
	KUNIT_CASE(genl_accept_empty_is_eagain),
	KUNIT_CASE(genl_accept_without_class_is_einval),
	KUNIT_CASE(genl_unknown_command_is_refused),
	KUNIT_CASE(genl_accept_needs_cap_net_admin),
	KUNIT_CASE(genl_done_needs_cap_net_admin),
	KUNIT_CASE(genl_done_delivers_status_and_first_peer),
	KUNIT_CASE(genl_done_keeps_first_of_many_peers),
	KUNIT_CASE(genl_done_status_is_negated),
	KUNIT_CASE(genl_done_without_status_is_eio),
	KUNIT_CASE(genl_done_oversize_status_is_refused),
	KUNIT_CASE(genl_done_without_sockfd_is_einval),
	KUNIT_CASE(genl_done_bad_descriptors),
	KUNIT_CASE(genl_done_for_pending_request_is_refused),
	KUNIT_CASE(genl_second_done_is_noop),
	KUNIT_CASE(genl_proc_lists_ended_request_and_its_socket),
	KUNIT_CASE(genl_cancel_after_accept_makes_done_noop),
	KUNIT_CASE(genl_accept_links_consumer_keyring),
	KUNIT_CASE(genl_accept_failure_after_dequeue_is_eio),
	KUNIT_CASE(genl_ready_is_multicast_per_request),
	KUNIT_CASE(genl_tracepoints_follow_the_lifecycle),
	KUNIT_CASE(genl_reserved_header_byte_is_einval),
	KUNIT_CASE(genl_done_tag_with_or_without_nul),
	KUNIT_CASE(genl_unprivileged_join_is_refused),
	KUNIT_CASE(genl_done_from_another_namespace_is_refused),
	{}
};

struct kunit_suite tlsup_genl_suite = {
	.name = "tlsup_genl",
	.init = kt_init,
	.exit = kt_exit,
	.test_cases = genl_cases,
};
