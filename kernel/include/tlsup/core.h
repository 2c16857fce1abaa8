/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C ABI between tlsup's kernel shims (C, kernel headers) and its core
 * (freestanding C++, no kernel headers). Nothing else crosses.
 *
 * Kernel objects reach the core only as opaque handles (struct tlsup_k*),
 * which the shims cast to and from the real kernel types. The core's own
 * objects are opaque to the shims. Integers are plain C types; errno values
 * are the kernel's; gfp flags are passed through untouched.
 *
 *   tlsup_core_*  implemented by the core, called by shims
 *   tlsup_shim_*  implemented by shims (or the host tests' fake), called by
 *                 the core
 *   tlsup_nl_*    the attribute writer, implemented by the genl shim
 */
#ifndef _TLSUP_CORE_H
#define _TLSUP_CORE_H

#ifdef __cplusplus
#include "attributes.hpp"
extern "C" {
#else
#define TLSUP_PRINTF(fmt, args) __printf(fmt, args)
#endif

/* Kernel objects, opaque to the core. */
struct tlsup_ksock;		/* struct sock */
struct tlsup_kfile;		/* struct file */
struct tlsup_knet;		/* the shim's per-namespace state */
struct tlsup_ksocket;		/* struct socket, from a DONE's fd lookup */
struct tlsup_lock;		/* spinlock_t, allocated by the shim */
struct tlsup_nl_reply;		/* an ACCEPT reply being built */
struct tlsup_seq;		/* struct seq_file */

/* Core objects, opaque to the shims. */
struct tlsup_net;
struct tlsup_req;

/* Same type as tls_done_func_t (key_serial_t is int32_t). */
typedef void (*tlsup_done_fn)(void *data, int status, int peerid);

#define TLSUP_MAX_PEERIDS	5
/* A peername longer than this is refused with -EINVAL (DNS names are <254). */
#define TLSUP_PEERNAME_MAX	255
/* Extra time the kernel gives the agent beyond ta_timeout_ms. */
#define TLSUP_DEADLINE_GRACE_MS	2000

/* One consumer request, as the shim translated struct tls_handshake_args. */
struct tlsup_submit {
	bool has_sock;			/* args->ta_sock != NULL */
	struct tlsup_ksock *sk;		/* sock->sk */
	struct tlsup_kfile *file;	/* sock->file */
	tlsup_done_fn done;
	void *data;
	const char *peername;		/* NULL: none */
	unsigned int timeout_ms;
	int keyring;
	int cert;
	int privkey;
	unsigned int num_peerids;
	int peerids[TLSUP_MAX_PEERIDS];
	unsigned int msg_type;		/* HANDSHAKE_MSG_TYPE_* */
	unsigned int auth_mode;		/* HANDSHAKE_AUTH_* */
};

/* Counters of one network namespace (also shown in /proc/net/tlsup). */
enum tlsup_status_bucket {
	TLSUP_ST_OK,
	TLSUP_ST_EACCES,
	TLSUP_ST_ENOKEY,
	TLSUP_ST_EKEYREJECTED,
	TLSUP_ST_ETIMEDOUT,
	TLSUP_ST_EINVAL,
	TLSUP_ST_ENOMEM,
	TLSUP_ST_EIO,
	TLSUP_ST_OTHER,
	TLSUP_ST_NR,
};

struct tlsup_stats {
	unsigned long long submitted;
	unsigned long long submit_failed;
	unsigned long long accepted;
	unsigned long long completed;	/* by DONE, deadline, drain or error */
	unsigned long long by_status[TLSUP_ST_NR];
	unsigned long long cancelled;
	unsigned long long expired;	/* kernel deadline */
	unsigned long long done_refused;
	unsigned int pending;		/* queued, not yet accepted */
	unsigned int inflight;		/* pending + accepted, not completed */
	unsigned int max_pending;
	unsigned int live;		/* requests not yet freed */
};

/* Tracepoints, named like upstream's (trace/events/handshake.h). */
enum tlsup_trace_event {
	TLSUP_TRACE_SUBMIT,
	TLSUP_TRACE_SUBMIT_ERR,
	TLSUP_TRACE_CANCEL,
	TLSUP_TRACE_CANCEL_NONE,
	TLSUP_TRACE_CANCEL_BUSY,
	TLSUP_TRACE_DESTRUCT,
	TLSUP_TRACE_COMPLETE,
	TLSUP_TRACE_NOTIFY_ERR,
	TLSUP_TRACE_CMD_ACCEPT,
	TLSUP_TRACE_CMD_ACCEPT_ERR,
	TLSUP_TRACE_CMD_DONE,
	TLSUP_TRACE_CMD_DONE_ERR,
	TLSUP_TRACE_EXPIRE,
};

/* Lock classes, so lockdep can tell the core's locks apart. */
enum tlsup_lock_class {
	TLSUP_LOCK_INDEX,
	TLSUP_LOCK_NET,
	TLSUP_LOCK_NR,
};

/* ---- Core entry points (kernel/core) ---- */

int tlsup_core_init(void);
void tlsup_core_exit(void);

/* Per network namespace. create() returns NULL on allocation failure. */
struct tlsup_net *tlsup_core_net_create(struct tlsup_knet *knet);
/* Completes every in-flight request with -ETIMEDOUT; drops the net's ref. */
void tlsup_core_net_exit(struct tlsup_net *net);
/* Runs expired deadlines; the shim's work item calls it. */
void tlsup_core_net_reap(struct tlsup_net *net);
void tlsup_core_net_stats(struct tlsup_net *net, struct tlsup_stats *out);
void tlsup_core_net_show(struct tlsup_net *net, struct tlsup_seq *seq);

/* Consumer API. */
int tlsup_core_submit(const struct tlsup_submit *args, unsigned int gfp);
bool tlsup_core_cancel(struct tlsup_ksock *sk);
/* True once after a successful handshake: send close_notify. */
bool tlsup_core_take_session(struct tlsup_ksock *sk);
/*
 * From the sk_destruct hook: unlinks the socket's request and returns it
 * with the destructor to chain in *@orig. The shim runs *@orig, then
 * releases the request (which drops the module reference last).
 */
struct tlsup_req *tlsup_core_sk_unhook(struct tlsup_ksock *sk, void **orig);
void tlsup_core_req_release(struct tlsup_req *req);

/*
 * Netlink commands. @attrs/@len are the request's attributes (after the genl
 * header), already validated against the family policy by genetlink; the
 * core decodes them again itself. Return 0 or a negative errno.
 */
int tlsup_core_cmd_accept(struct tlsup_net *net, const void *attrs,
			  unsigned int len, struct tlsup_nl_reply *reply);
int tlsup_core_cmd_done(struct tlsup_net *net, const void *attrs,
			unsigned int len);

/* ---- Shim services (kernel/shim, or the host fake) ---- */

extern const unsigned int tlsup_gfp_kernel;

void *tlsup_shim_alloc(unsigned long size, unsigned int gfp);
void tlsup_shim_free(const void *p);
/* Does not return (panics); not declared noreturn so objtool can follow. */
void tlsup_shim_bug(const char *why);
void tlsup_shim_warn(const char *why);

struct tlsup_lock *tlsup_shim_lock_create(enum tlsup_lock_class cls,
					  unsigned int gfp);
void tlsup_shim_lock_destroy(struct tlsup_lock *lock);
void tlsup_shim_lock(struct tlsup_lock *lock);		/* spin_lock_bh */
void tlsup_shim_unlock(struct tlsup_lock *lock);

unsigned long long tlsup_shim_now_ms(void);	/* monotonic */
/* How many requests a netns may queue un-accepted (module parameter). */
unsigned int tlsup_shim_max_pending(void);

bool tlsup_shim_module_get(void);
void tlsup_shim_module_put(void);

struct tlsup_net *tlsup_shim_net_of(struct tlsup_ksock *sk);
bool tlsup_shim_has_listeners(struct tlsup_knet *knet, unsigned int class_);
/* Multicasts READY; the raw result of genlmsg_multicast_netns(). */
int tlsup_shim_notify_ready(struct tlsup_knet *knet, unsigned int class_,
			    unsigned int gfp);
/* (Re)arms the net's deadline work to run in @delay_ms; callable under a lock. */
void tlsup_shim_reaper_arm(struct tlsup_knet *knet, unsigned long long delay_ms);
/* Cancels it and waits for a running one; process context, no locks held. */
void tlsup_shim_reaper_cancel_sync(struct tlsup_knet *knet);

void tlsup_shim_sock_hold(struct tlsup_ksock *sk);
void tlsup_shim_sock_put(struct tlsup_ksock *sk);
void tlsup_shim_file_get(struct tlsup_kfile *file);
void tlsup_shim_file_put(struct tlsup_kfile *file);
/* Installs tlsup's sk_destruct; returns the previous one (opaque). */
void *tlsup_shim_sk_hook_destruct(struct tlsup_ksock *sk);
void tlsup_shim_sk_restore_destruct(struct tlsup_ksock *sk, void *orig);

/* ACCEPT, in the calling process. */
int tlsup_shim_fd_reserve(void);			/* O_CLOEXEC */
void tlsup_shim_fd_unreserve(int fd);
void tlsup_shim_fd_install(int fd, struct tlsup_kfile *file); /* eats a ref */
int tlsup_shim_keyring_link(int keyring);	/* into the process keyring */

/* DONE: the caller's fd to a socket; sk is NULL on error (*err set). */
struct tlsup_ksocket *tlsup_shim_sockfd_get(int fd, struct tlsup_ksock **sk,
					    int *err);
void tlsup_shim_sockfd_put(struct tlsup_ksocket *sock);

void tlsup_shim_trace(enum tlsup_trace_event ev, struct tlsup_ksock *sk,
		      unsigned long long req_id, int arg);

TLSUP_PRINTF(2, 3)
void tlsup_shim_seq_printf(struct tlsup_seq *seq, const char *fmt, ...);

/* ---- Attribute writer for the ACCEPT reply (genl shim) ---- */

int tlsup_nl_reply_begin(struct tlsup_nl_reply *reply);
int tlsup_nl_put_u32(struct tlsup_nl_reply *reply, unsigned int type,
		     unsigned int value);
int tlsup_nl_put_s32(struct tlsup_nl_reply *reply, unsigned int type,
		     int value);
int tlsup_nl_put_string(struct tlsup_nl_reply *reply, unsigned int type,
			const char *value);
int tlsup_nl_nest_start(struct tlsup_nl_reply *reply, unsigned int type);
void tlsup_nl_nest_end(struct tlsup_nl_reply *reply);
/* Sends the reply (consumed either way). */
int tlsup_nl_reply_send(struct tlsup_nl_reply *reply);
/* Frees an unsent reply. */
void tlsup_nl_reply_abort(struct tlsup_nl_reply *reply);

#ifdef __cplusplus
}
#endif

#endif /* _TLSUP_CORE_H */
