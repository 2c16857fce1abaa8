// SPDX-License-Identifier: GPL-2.0
/*
 * genl_fuzz: random and mutated messages to the "handshake" generic netlink
 * family, for the UML stress suite (tests/stress/genl-fuzz).
 *
 *   genl_fuzz [--messages N] [--seed S] [--unprivileged]
 *   genl_fuzz --hammer SECONDS
 *
 * Random commands, flags, versions, reserved bytes, attribute types,
 * lengths, nests and truncations, with descriptors of every kind (sockets
 * of several families, a file, a pipe, an eventfd, the consumer sockets
 * real ACCEPTs returned, closed and absurd numbers) in every s32/u32 slot.
 * As root it also ACCEPTs real requests and ends them with random DONEs.
 * With --unprivileged it drops to uid/gid 65534 with no capabilities first,
 * and then no ACCEPT or DONE may ever succeed: every well-formed one must
 * be refused with EPERM, and joining the "tlshd" group with EPERM too.
 *
 * As root, at least one real request must be ACCEPTed: when the messages
 * are sent before the consumer submitted any (a fast machine finishes
 * them in well under a second), the fuzzing goes on, paced, until one is,
 * for up to --accept-wait SECONDS (default 120).
 *
 * Prints "genl_fuzz: N messages (... /s), ..." and exits 1 on a violation.
 *
 * --hammer is an agent for the load/unload stress: ACCEPT and DONE in a
 * loop for SECONDS, following the family as tlsup.ko comes and goes (it
 * re-resolves the family id whenever the kernel says it is gone).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <grp.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../../include/uapi/linux/handshake.h"

#define BUF 8192

static int nl;
static uint16_t family;
static int tlshd_group = -1;
static uint64_t rng;
static unsigned int seq;
static int privileged = 1;

static int fds[64];
static int nfds;
static int accepted[256];
static int naccepted;

static struct {
	unsigned long sent, acks, ok, eperm, accepted, done_ok;
	unsigned long by_errno[140];
} st;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from --seed. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static unsigned int below(unsigned int n)
{
	return n ? (unsigned int)(rnd() % n) : 0;
}

static void die(const char *what)
{
	fprintf(stderr, "genl_fuzz: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void violation(const char *what, int cmd, int err)
{
	fprintf(stderr, "genl_fuzz: VIOLATION: %s (cmd %d, error %d, message %lu)\n",
		what, cmd, err, st.sent);
	exit(1);
}

/* Attribute writer: @len bytes of payload, possibly nested. */
static int put_attr(uint8_t *buf, int off, int max, uint16_t type,
		    const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)(buf + off);
	int total = NLA_ALIGN(NLA_HDRLEN + len);

	if (off + total > max)
		return off;
	a->nla_len = NLA_HDRLEN + len;
	a->nla_type = type;
	if (len)
		memcpy(buf + off + NLA_HDRLEN, data, len);
	memset(buf + off + NLA_HDRLEN + len, 0, total - NLA_HDRLEN - len);
	return off + total;
}

static uint32_t interesting(void)
{
	static const uint32_t pool[] = {
		0, 1, 2, 3, 4, 5, 13, 22, 110, 126, 129, 4095, 4096, 65535,
		0x7fffffff, 0x80000000, 0xffffffff, 1u << 30,
	};

	switch (below(6)) {
	case 0:
	case 1:
		if (naccepted)
			return accepted[below(naccepted)];
		/* fall through */
	case 2:
		return nfds ? fds[below(nfds)] : 0;
	case 3:
		return pool[below(sizeof(pool) / sizeof(pool[0]))];
	default:
		return (uint32_t)rnd();
	}
}

static int random_attrs(uint8_t *buf, int off, int max, int depth)
{
	int n = below(7), i;

	for (i = 0; i < n; i++) {
		uint8_t payload[300];
		uint16_t type = below(4) ? 1 + below(10) : (uint16_t)rnd();
		int len;

		if (below(10) == 0 && depth < 2) {
			/* A nest with random contents. */
			int start = off;

			off = put_attr(buf, off, max, type | NLA_F_NESTED, NULL, 0);
			if (off == start)
				break;
			off = random_attrs(buf, off, max, depth + 1);
			((struct nlattr *)(buf + start))->nla_len = off - start;
			continue;
		}
		switch (below(5)) {
		case 0:
			len = below(9);
			break;
		case 1:
			len = below(300);
			break;
		default:
			len = 4;
		}
		if (len == 4) {
			uint32_t v = interesting();

			memcpy(payload, &v, 4);
		} else {
			int j;

			for (j = 0; j < len; j++)
				payload[j] = below(3) ? 'a' + below(26) : (uint8_t)rnd();
		}
		off = put_attr(buf, off, max, type, payload, len);
	}
	return off;
}

/* What each in-flight message asked, to judge its answer. */
struct sent_msg {
	unsigned int seq;
	int cmd;
	int wellformed;	/* right family, length, version-agnostic, reserved 0, no dump */
};

static struct sent_msg inflight[64];
static int ninflight;

static void judge(unsigned int s, int err)
{
	int i;

	for (i = 0; i < ninflight; i++) {
		struct sent_msg *m = &inflight[i];

		if (m->seq != s)
			continue;
		st.acks++;
		if (err == 0)
			st.ok++;
		if (err == -EPERM)
			st.eperm++;
		if (err < 0 && -err < 140)
			st.by_errno[-err]++;
		if (!privileged && (m->cmd == HANDSHAKE_CMD_ACCEPT ||
				    m->cmd == HANDSHAKE_CMD_DONE)) {
			if (err == 0)
				violation("an unprivileged ACCEPT or DONE succeeded",
					  m->cmd, err);
			if (m->wellformed && err != -EPERM)
				violation("an unprivileged well-formed command was not refused with EPERM",
					  m->cmd, err);
		}
		if (m->cmd == HANDSHAKE_CMD_DONE && err == 0)
			st.done_ok++;
		*m = inflight[--ninflight];
		return;
	}
}

static void take_fd(const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *gh = NLMSG_DATA(nlh);
	const struct nlattr *a = (const void *)((const uint8_t *)gh + GENL_HDRLEN);
	int rem = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;

	if (!privileged)
		violation("an unprivileged process received an ACCEPT reply", gh->cmd, 0);
	while (rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= rem) {
		if ((a->nla_type & NLA_TYPE_MASK) == HANDSHAKE_A_ACCEPT_SOCKFD &&
		    a->nla_len == NLA_HDRLEN + 4) {
			int fd;

			memcpy(&fd, (const uint8_t *)a + NLA_HDRLEN, 4);
			st.accepted++;
			if (naccepted == 256) {
				close(accepted[0]);
				memmove(accepted, accepted + 1, sizeof(int) * 255);
				naccepted--;
			}
			accepted[naccepted++] = fd;
		}
		rem -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const uint8_t *)a + NLA_ALIGN(a->nla_len));
	}
}

static void handle(uint8_t *buf, int len)
{
	struct nlmsghdr *nlh;

	for (nlh = (void *)buf; NLMSG_OK(nlh, (unsigned int)len); nlh = NLMSG_NEXT(nlh, len)) {
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nlh);

			judge(nlh->nlmsg_seq, e->error);
		} else if (nlh->nlmsg_type == family) {
			const struct genlmsghdr *gh = NLMSG_DATA(nlh);

			if (gh->cmd == HANDSHAKE_CMD_ACCEPT)
				take_fd(nlh);
		}
	}
}

/* Every answer queued now (one recvmmsg for many); @wait: block for one. */
static void drain(int wait)
{
	enum { SLOTS = 32 };
	static uint8_t bufs[SLOTS][BUF];
	struct mmsghdr mm[SLOTS];
	struct iovec iov[SLOTS];
	int i, n;

	for (;;) {
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < SLOTS; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = BUF;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(nl, mm, SLOTS, wait ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ENOBUFS)
				continue; /* overrun: READYs lost */
			die("recvmmsg");
		}
		for (i = 0; i < n; i++)
			handle(bufs[i], mm[i].msg_len);
		if (n < SLOTS)
			return;
		wait = 0;
	}
}

/* Messages go out in batches, several per sendto() (netlink answers each). */
static uint8_t batch[BUF * 4];
static int batch_len;

static void flush(void)
{
	struct sockaddr_nl dst = { .nl_family = AF_NETLINK };

	if (!batch_len)
		return;
	if (sendto(nl, batch, batch_len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0 &&
	    errno != EINVAL && errno != ENOBUFS && errno != EPERM && errno != ENOENT)
		die("sendto");
	batch_len = 0;
	drain(0);
	if (ninflight > 32) {
		drain(1);
		ninflight = 0; /* answers of messages the kernel dropped never come */
	}
}

static void send_one(void)
{
	uint8_t *buf = batch + batch_len;
	struct nlmsghdr *nlh = (void *)buf;
	struct genlmsghdr *gh = NLMSG_DATA(nlh);
	struct sent_msg m = { 0 };
	int len, wellformed = 1;

	memset(buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	nlh->nlmsg_type = below(20) ? family : (uint16_t)rnd();
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (below(20) == 0) {
		nlh->nlmsg_flags |= NLM_F_DUMP;
		wellformed = 0;
	}
	if (below(40) == 0) {
		nlh->nlmsg_flags = (uint16_t)rnd() | NLM_F_REQUEST | NLM_F_ACK;
		wellformed = 0;
	}
	nlh->nlmsg_seq = ++seq;
	gh->cmd = below(10) ? HANDSHAKE_CMD_ACCEPT + below(2) : (uint8_t)rnd();
	gh->version = below(10) ? HANDSHAKE_FAMILY_VERSION : (uint8_t)rnd();
	if (below(20) == 0) {
		gh->reserved = (uint16_t)rnd() | 1;
		wellformed = 0;
	}
	if (privileged && below(4) == 0) {
		/* A sensible ACCEPT, to get real descriptors to play with. */
		uint32_t cls = HANDSHAKE_HANDLER_CLASS_TLSHD;

		gh->cmd = HANDSHAKE_CMD_ACCEPT;
		nlh->nlmsg_type = family;
		len = put_attr(buf, NLMSG_HDRLEN + GENL_HDRLEN, BUF,
			       HANDSHAKE_A_ACCEPT_HANDLER_CLASS, &cls, 4);
	} else if (privileged && naccepted && below(4) == 0) {
		/* A DONE for a real request, with random extras. */
		int fd = accepted[below(naccepted)];
		uint32_t status = below(3) ? below(140) : interesting();

		gh->cmd = HANDSHAKE_CMD_DONE;
		nlh->nlmsg_type = family;
		len = put_attr(buf, NLMSG_HDRLEN + GENL_HDRLEN, BUF,
			       HANDSHAKE_A_DONE_SOCKFD, &fd, 4);
		if (below(4))
			len = put_attr(buf, len, BUF, HANDSHAKE_A_DONE_STATUS, &status, 4);
		len = random_attrs(buf, len, BUF, 0);
	} else {
		len = random_attrs(buf, NLMSG_HDRLEN + GENL_HDRLEN, BUF, 0);
	}
	nlh->nlmsg_len = len;
	if (below(30) == 0) {
		/* Truncated, within what is sent: the rest is parsed as more. */
		nlh->nlmsg_len = below(len + 1);
		wellformed = 0;
	}
	if (nlh->nlmsg_type != family)
		wellformed = 0;
	m.seq = nlh->nlmsg_seq;
	m.cmd = nlh->nlmsg_type == family ? gh->cmd : -1;
	m.wellformed = wellformed && nlh->nlmsg_len >= NLMSG_HDRLEN + GENL_HDRLEN;
	if (ninflight < 64 && nlh->nlmsg_len >= NLMSG_HDRLEN)
		inflight[ninflight++] = m;
	st.sent++;
	/*
	 * A truncated message ends the batch: what follows it would be read
	 * from the middle of this one.
	 */
	batch_len += NLMSG_ALIGN(len);
	if (nlh->nlmsg_len != (unsigned int)len || batch_len > (int)sizeof(batch) - BUF ||
	    below(8) == 0)
		flush();
}

static int resolve_family_once(void)
{
	uint8_t buf[BUF];
	struct nlmsghdr *nlh = (void *)buf;
	struct genlmsghdr *gh = NLMSG_DATA(nlh);
	struct sockaddr_nl dst = { .nl_family = AF_NETLINK };
	int len;

	memset(buf, 0, sizeof(buf));
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++seq;
	gh->cmd = CTRL_CMD_GETFAMILY;
	gh->version = 1;
	len = put_attr(buf, NLMSG_HDRLEN + GENL_HDRLEN, BUF, CTRL_ATTR_FAMILY_NAME,
		       HANDSHAKE_FAMILY_NAME, sizeof(HANDSHAKE_FAMILY_NAME));
	nlh->nlmsg_len = len;
	if (sendto(nl, buf, len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		die("sendto getfamily");
	len = recv(nl, buf, sizeof(buf), 0);
	if (len < 0 || nlh->nlmsg_type != GENL_ID_CTRL)
		return -1;
	family = 0;
	tlshd_group = -1;
	{
		const struct nlattr *a = (const void *)(buf + NLMSG_HDRLEN + GENL_HDRLEN);
		int rem = len - NLMSG_HDRLEN - GENL_HDRLEN;

		while (rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= rem) {
			if (a->nla_type == CTRL_ATTR_FAMILY_ID)
				memcpy(&family, (const uint8_t *)a + NLA_HDRLEN, 2);
			if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GROUPS) {
				/* Each group: a nest of NAME and ID. */
				const struct nlattr *g = (const void *)((const uint8_t *)a + NLA_HDRLEN);
				int grem = a->nla_len - NLA_HDRLEN;

				while (grem >= NLA_HDRLEN && g->nla_len >= NLA_HDRLEN &&
				       g->nla_len <= grem) {
					const struct nlattr *f = (const void *)((const uint8_t *)g + NLA_HDRLEN);
					int frem = g->nla_len - NLA_HDRLEN, id = -1, is_tlshd = 0;

					while (frem >= NLA_HDRLEN && f->nla_len >= NLA_HDRLEN &&
					       f->nla_len <= frem) {
						if (f->nla_type == CTRL_ATTR_MCAST_GRP_ID)
							memcpy(&id, (const uint8_t *)f + NLA_HDRLEN, 4);
						if (f->nla_type == CTRL_ATTR_MCAST_GRP_NAME &&
						    !strcmp((const char *)f + NLA_HDRLEN,
							    HANDSHAKE_MCGRP_TLSHD))
							is_tlshd = 1;
						frem -= NLA_ALIGN(f->nla_len);
						f = (const void *)((const uint8_t *)f + NLA_ALIGN(f->nla_len));
					}
					if (is_tlshd)
						tlshd_group = id;
					grem -= NLA_ALIGN(g->nla_len);
					g = (const void *)((const uint8_t *)g + NLA_ALIGN(g->nla_len));
				}
			}
			rem -= NLA_ALIGN(a->nla_len);
			a = (const void *)((const uint8_t *)a + NLA_ALIGN(a->nla_len));
		}
	}
	return family && tlshd_group >= 0 ? 0 : -1;
}

static void resolve_family(void)
{
	if (resolve_family_once() < 0) {
		fprintf(stderr, "genl_fuzz: no \"handshake\" family (or its group)\n");
		exit(2);
	}
}

/* One command and its answer; 0, or the kernel's negative errno. */
static int command(uint8_t cmd, const uint8_t *attrs, int alen, int *fd_out)
{
	uint8_t buf[BUF];
	struct nlmsghdr *nlh = (void *)buf;
	struct genlmsghdr *gh = NLMSG_DATA(nlh);
	struct sockaddr_nl dst = { .nl_family = AF_NETLINK };
	unsigned int want = ++seq;

	memset(buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = want;
	gh->cmd = cmd;
	gh->version = HANDSHAKE_FAMILY_VERSION;
	memcpy(buf + NLMSG_HDRLEN + GENL_HDRLEN, attrs, alen);
	nlh->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN + alen;
	if (sendto(nl, buf, nlh->nlmsg_len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		return -errno;
	for (;;) {
		int len = recv(nl, buf, sizeof(buf), 0);

		if (len < 0) {
			if (errno == ENOBUFS)
				continue;
			return -errno;
		}
		for (nlh = (void *)buf; NLMSG_OK(nlh, (unsigned int)len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_seq != want)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR)
				return ((const struct nlmsgerr *)NLMSG_DATA(nlh))->error;
			if (fd_out && nlh->nlmsg_type == family) {
				const struct nlattr *a = (const void *)((uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN);

				if ((a->nla_type & NLA_TYPE_MASK) == HANDSHAKE_A_ACCEPT_SOCKFD)
					memcpy(fd_out, (const uint8_t *)a + NLA_HDRLEN, 4);
			}
		}
	}
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int hammer(double seconds)
{
	unsigned long accepts = 0, dones = 0, gone = 0, other = 0, cycles = 0;
	struct timespec t0, t;
	uint8_t attrs[64];

	signal(SIGTERM, on_term);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		uint32_t cls = HANDSHAKE_HANDLER_CLASS_TLSHD;
		int fd = -1, ret, len;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
			break;
		if (!family) {
			if (resolve_family_once() < 0) {
				usleep(200);
				continue;
			}
			cycles++;
		}
		/*
		 * Unregistering the family drops its group members, and a new
		 * registration may reuse the same ids, unnoticed here: join
		 * again every round (joining twice is a no-op).
		 */
		setsockopt(nl, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &tlshd_group,
			   sizeof(tlshd_group));
		len = put_attr(attrs, 0, sizeof(attrs), HANDSHAKE_A_ACCEPT_HANDLER_CLASS, &cls, 4);
		ret = command(HANDSHAKE_CMD_ACCEPT, attrs, len, &fd);
		if (ret == 0 && fd >= 0) {
			uint32_t status = 0;

			accepts++;
			len = put_attr(attrs, 0, sizeof(attrs), HANDSHAKE_A_DONE_SOCKFD, &fd, 4);
			len = put_attr(attrs, len, sizeof(attrs), HANDSHAKE_A_DONE_STATUS, &status, 4);
			if (command(HANDSHAKE_CMD_DONE, attrs, len, NULL) == 0)
				dones++;
			close(fd);
		} else if (ret == -ENOENT || ret == -EOPNOTSUPP) {
			gone++; /* the family went (or a new one took its id) */
			family = 0;
		} else if (ret != -EAGAIN) {
			other++;
		}
		/* A DONE for a descriptor that is no request, now and then. */
		if (family && (accepts + gone + other) % 7 == 0) {
			fd = 0;
			len = put_attr(attrs, 0, sizeof(attrs), HANDSHAKE_A_DONE_SOCKFD, &fd, 4);
			if (command(HANDSHAKE_CMD_DONE, attrs, len, NULL) == -ENOENT)
				family = 0;
		}
	}
	printf("genl_fuzz: hammer: %lu family appearances, %lu ACCEPTed, %lu DONE, %lu times gone, %lu other errors\n",
	       cycles, accepts, dones, gone, other);
	return 0;
}

static void drop_privileges(void)
{
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		die("dropping privileges");
	if (prctl(PR_SET_KEEPCAPS, 0) || getuid() != 65534)
		die("still privileged");
	privileged = 0;
}

static void open_fds(void)
{
	int p[2];

	fds[nfds++] = socket(AF_INET, SOCK_STREAM, 0);
	fds[nfds++] = socket(AF_INET6, SOCK_STREAM, 0);
	fds[nfds++] = socket(AF_INET, SOCK_DGRAM, 0);
	fds[nfds++] = socket(AF_UNIX, SOCK_STREAM, 0);
	fds[nfds++] = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	fds[nfds++] = open("/proc/self/stat", O_RDONLY);
	if (pipe(p) == 0) {
		fds[nfds++] = p[0];
		fds[nfds++] = p[1];
	}
	fds[nfds++] = eventfd(0, 0);
	fds[nfds++] = -1;
	fds[nfds++] = 1000000;
	{
		/* A descriptor number that is closed now. */
		int gone = dup(0);

		close(gone);
		fds[nfds++] = gone;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "messages", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "unprivileged", no_argument, NULL, 'u' },
		{ "hammer", required_argument, NULL, 'h' },
		{ "accept-wait", required_argument, NULL, 'w' },
		{}
	};
	unsigned long messages = 100000;
	double hammer_seconds = 0, accept_wait = 120;
	unsigned long extra = 0;
	struct timespec t0, t1;
	double secs;
	int c, i;

	rng = 0x9e3779b97f4a7c15ULL;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			messages = strtoul(optarg, NULL, 0);
			break;
		case 's':
			rng = strtoull(optarg, NULL, 0) | 1;
			break;
		case 'u':
			drop_privileges();
			break;
		case 'h':
			hammer_seconds = strtod(optarg, NULL);
			break;
		case 'w':
			accept_wait = strtod(optarg, NULL);
			break;
		default:
			return 2;
		}
	}
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl < 0)
		die("socket");
	{
		int big = 1 << 20;

		setsockopt(nl, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	if (hammer_seconds > 0)
		return hammer(hammer_seconds);
	resolve_family();
	if (setsockopt(nl, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &tlshd_group,
		       sizeof(tlshd_group)) < 0) {
		if (privileged)
			die("joining tlshd");
		if (errno != EPERM)
			violation("an unprivileged join of \"tlshd\" was not refused with EPERM",
				  -1, -errno);
	} else if (!privileged) {
		violation("an unprivileged process joined \"tlshd\"", -1, 0);
	}
	open_fds();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (st.sent < messages)
		send_one();
	flush();
	drain(0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/*
	 * Nothing ACCEPTed yet as root: the consumer had no request pending
	 * while the messages went out. Go on in small paced batches (the
	 * consumer needs the CPU too: UML has one) until a request is taken.
	 */
	while (privileged && st.accepted == 0) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t1.tv_sec) + (now.tv_nsec - t1.tv_nsec) / 1e9 > accept_wait)
			break;
		for (i = 0; i < 64; i++, extra++)
			send_one();
		flush();
		drain(0);
		usleep(5000);
	}
	for (i = 0; i < naccepted; i++)
		close(accepted[i]);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("genl_fuzz: %s: %lu messages in %.1f s (%.0f messages/s), %lu acks: "
	       "%lu ok, %lu EPERM, %lu EINVAL, %lu ERANGE, %lu EBADF, %lu EBUSY, %lu EAGAIN, "
	       "%lu EOPNOTSUPP; %lu ACCEPTed, %lu DONEs taken\n",
	       privileged ? "root" : "unprivileged", st.sent - extra, secs, (st.sent - extra) / secs,
	       st.acks, st.ok, st.eperm, st.by_errno[EINVAL], st.by_errno[ERANGE],
	       st.by_errno[EBADF], st.by_errno[EBUSY], st.by_errno[EAGAIN],
	       st.by_errno[EOPNOTSUPP], st.accepted, st.done_ok);
	if (extra)
		printf("genl_fuzz: %lu more messages until a request was ACCEPTed (%s)\n", extra,
		       st.accepted ? "one was" : "none was");
	if (!privileged && st.eperm == 0)
		violation("no EPERM seen at all as an unprivileged sender", -1, 0);
	if (privileged && st.accepted == 0)
		violation("no request was ACCEPTed as root (no consumers running?)", -1, 0);
	return 0;
}
