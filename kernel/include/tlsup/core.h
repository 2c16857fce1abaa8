/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C ABI between tlsup's kernel shims (C, kernel headers) and its core
 * (freestanding C++, no kernel headers). Nothing else crosses.
 *
 * Kernel objects reach the core only as opaque handles (struct tlsup_k*,
 * struct tlsup_pernet), which the shims cast to and from the real kernel
 * types. The core's own objects (struct tlsup_core_*) are opaque to the
 * shims. Commands cross as plain structs: the genl shim decodes attributes
 * and encodes replies, the core decides. Integers are plain C types; errno
 * values are the kernel's; gfp flags are passed through untouched.
 *
 *   tlsup_core_*  implemented by the core, called by shims
 *   tlsup_shim_*  implemented by shims (or the host tests' fake), called by
 *                 the core
 *
 * Every tlsup_shim_* call is a point where another CPU may run: the host
 * tests' interleaving explorer schedules competing operations at each one.
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
struct tlsup_ksocket;		/* struct socket, from a DONE's fd lookup */
struct tlsup_lock;		/* spinlock_t, allocated by the shim */
struct tlsup_seq;		/* struct seq_file */
struct tlsup_pernet;		/* the shim's state of one network namespace */
struct tlsup_nl_reply;		/* the genl shim's context of one ACCEPT */

/* Core objects, opaque to the shims. */
struct tlsup_core_pernet;	/* the core's state of one network namespace */
struct tlsup_req;		/* one handshake request */

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

/* An ACCEPT request, decoded and validated by the genl shim. */
struct tlsup_accept_cmd {
	unsigned int handler_class;
};

/*
 * The ACCEPT reply the core decided on; the genl shim encodes it in the
 * order DESIGN §1 fixes and sends it.
 */
struct tlsup_accept_reply {
	int sockfd;
	unsigned int msg_type;
	const char *peername;		/* NULL: omitted */
	unsigned int timeout_ms;	/* 0: omitted */
	unsigned int auth_mode;
	unsigned int num_peerids;	/* PSK: PEER_IDENTITY attributes */
	int peerids[TLSUP_MAX_PEERIDS];
	int cert;			/* x509: both 0 omits the nest */
	int privkey;
	int keyring;			/* 0: omitted */
};

/* A DONE request, decoded and validated by the genl shim. */
struct tlsup_done_cmd {
	int sockfd;
	bool has_status;
	unsigned int status;		/* positive errno, <= MAX_ERRNO */
	/* REMOTE_AUTH serials in message order; the first few are kept. */
	unsigned int num_remote;
	int remote[TLSUP_MAX_PEERIDS];
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

/*
 * Lock classes, so lockdep can tell the core's locks apart. Nesting order:
 * INDEX, then PERNET (publishing a request takes both).
 */
enum tlsup_lock_class {
	TLSUP_LOCK_INDEX,
	TLSUP_LOCK_PERNET,
	TLSUP_LOCK_NR,
};

/* ---- Core entry points (kernel/core) ---- */

int tlsup_core_init(void);
/* Module exit: every request is gone (each held a module reference). */
void tlsup_core_exit(void);

/* Per network namespace. create() returns NULL on allocation failure. */
struct tlsup_core_pernet *tlsup_core_pernet_create(struct tlsup_pernet *pn);
/*
 * Namespace exit, after the shim stopped handing out @cpn: completes every
 * request with -ETIMEDOUT and drops the namespace's reference.
 */
void tlsup_core_pernet_exit(struct tlsup_core_pernet *cpn);
/*
 * A reference for one submit or command. The shim takes it under the lock
 * that also guards its pointer to @cpn, which namespace exit clears before
 * it calls tlsup_core_pernet_exit(): a racing exit cannot free @cpn first.
 */
void tlsup_core_pernet_get(struct tlsup_core_pernet *cpn);
void tlsup_core_pernet_put(struct tlsup_core_pernet *cpn);
/* Runs expired deadlines; the shim's work item calls it. */
void tlsup_core_pernet_reap(struct tlsup_core_pernet *cpn);
void tlsup_core_pernet_stats(struct tlsup_core_pernet *cpn,
			     struct tlsup_stats *out);
/* @privileged: the reader may see peernames (CAP_NET_ADMIN of the opener). */
void tlsup_core_pernet_show(struct tlsup_core_pernet *cpn,
			    struct tlsup_seq *seq, bool privileged);

/*
 * Consumer API. submit() consumes the caller's reference on @cpn (from
 * tlsup_core_pernet_get()) whatever it returns.
 */
int tlsup_core_submit(struct tlsup_core_pernet *cpn,
		      const struct tlsup_submit *args, unsigned int gfp);
bool tlsup_core_cancel(struct tlsup_ksock *sk);
/* True once after a successful handshake: send close_notify. */
bool tlsup_core_take_session(struct tlsup_ksock *sk);
/*
 * From the sk_destruct hook: unlinks the socket's request and returns it
 * with the destructor to chain in *@orig (NULL and *@orig NULL if the
 * socket has no request: the shim then chains the family's default). The
 * shim runs *@orig, then releases the request, which drops the module
 * reference last.
 */
struct tlsup_req *tlsup_core_sk_unhook(struct tlsup_ksock *sk, void **orig);
void tlsup_core_req_release(struct tlsup_req *req);

/* Netlink commands, in the sender's namespace. Return 0 or a negative errno. */
int tlsup_core_cmd_accept(struct tlsup_core_pernet *cpn,
			  const struct tlsup_accept_cmd *cmd,
			  struct tlsup_nl_reply *reply);
int tlsup_core_cmd_done(struct tlsup_core_pernet *cpn,
			const struct tlsup_done_cmd *cmd);

/* ---- Shim services (kernel/shim, or the host tests' fake) ---- */

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
/* lockdep_assert_held(): the core's *_locked functions call it. */
void tlsup_shim_lock_assert_held(struct tlsup_lock *lock);

unsigned long long tlsup_shim_now_ms(void);	/* monotonic */
/* How many requests a namespace may queue un-accepted (module parameter). */
unsigned int tlsup_shim_max_pending(void);

bool tlsup_shim_module_get(void);
void tlsup_shim_module_put(void);

/*
 * Multicasts READY to the agents of @class_ in @pn's namespace. 0: an agent
 * there exists (it got the message, or it overran and will drain with
 * ACCEPT); -ESRCH: none in this namespace; other negative errnos as sent.
 */
int tlsup_shim_notify_ready(struct tlsup_pernet *pn, unsigned int class_,
			    unsigned int gfp);
/* (Re)arms the deadline work to run in @delay_ms; under the pernet lock. */
void tlsup_shim_reaper_arm(struct tlsup_pernet *pn,
			   unsigned long long delay_ms);
/* Cancels it and waits for a running one; process context, no locks held. */
void tlsup_shim_reaper_cancel_sync(struct tlsup_pernet *pn);

void tlsup_shim_sock_hold(struct tlsup_ksock *sk);
void tlsup_shim_sock_put(struct tlsup_ksock *sk);
void tlsup_shim_file_get(struct tlsup_kfile *file);
void tlsup_shim_file_put(struct tlsup_kfile *file);
/*
 * Installs tlsup's sk_destruct and returns the previous one (opaque), and
 * puts it back. Called under the index lock: the hook and the index entry
 * appear and disappear together.
 */
void *tlsup_shim_sk_hook_destruct(struct tlsup_ksock *sk);
void tlsup_shim_sk_restore_destruct(struct tlsup_ksock *sk, void *orig);

/* ACCEPT, in the calling process. */
int tlsup_shim_fd_reserve(void);			/* O_CLOEXEC */
void tlsup_shim_fd_unreserve(int fd);
void tlsup_shim_fd_install(int fd, struct tlsup_kfile *file); /* eats a ref */
/*
 * Links @keyring into the caller's process keyring for one ACCEPT; release()
 * ends that ACCEPT's claim: @keep (the agent got the reply) leaves the link,
 * else it is taken back if this ACCEPT made it and no other ACCEPT of the
 * same keyring is in progress or went through.
 */
int tlsup_shim_keyring_link(int keyring);
void tlsup_shim_keyring_release(int keyring, bool keep);
/* Encodes and sends the reply to the ACCEPT being answered. */
int tlsup_shim_accept_reply(struct tlsup_nl_reply *reply,
			    const struct tlsup_accept_reply *r);

/* DONE: the caller's fd to a socket; sk is NULL on error (*err set). */
struct tlsup_ksocket *tlsup_shim_sockfd_get(int fd, struct tlsup_ksock **sk,
					    int *err);
void tlsup_shim_sockfd_put(struct tlsup_ksocket *sock);

void tlsup_shim_trace(enum tlsup_trace_event ev, struct tlsup_ksock *sk,
		      unsigned long long req_id, int arg);

TLSUP_PRINTF(2, 3)
void tlsup_shim_seq_printf(struct tlsup_seq *seq, const char *fmt, ...);
/*
 * Appends " sk_state=S sk_refs=N sk_wmem=N orphan=0|1" for an ended
 * request's socket (what still holds it). Under the index lock, which
 * @sk's sk_destruct hook takes before the socket goes: @sk is valid.
 */
void tlsup_shim_seq_sock(struct tlsup_seq *seq, struct tlsup_ksock *sk);

#ifdef __cplusplus
}
#endif

#endif /* _TLSUP_CORE_H */
