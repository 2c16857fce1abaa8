// SPDX-License-Identifier: GPL-2.0
/*
 * The "handshake" generic netlink family, wire-compatible with upstream's:
 * READY notifications, ACCEPT and DONE commands. Attributes are decoded and
 * encoded here; the core gets and returns plain structs.
 */

#include <linux/err.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "../../include/uapi/linux/handshake.h"
#include "shim.h"

/* One ACCEPT being answered. */
struct tlsup_nl_reply {
	struct genl_info *info;
};

static const struct nla_policy tlsup_accept_policy[HANDSHAKE_A_ACCEPT_HANDLER_CLASS + 1] = {
	[HANDSHAKE_A_ACCEPT_HANDLER_CLASS] =
		NLA_POLICY_MAX(NLA_U32, HANDSHAKE_HANDLER_CLASS_MAX),
};

/* TAG: with or without a trailing NUL, as upstream sends and accepts it. */
#define TLSUP_TAG_MAX 255

static const struct nla_policy tlsup_done_policy[HANDSHAKE_A_DONE_MAX + 1] = {
	[HANDSHAKE_A_DONE_STATUS] = NLA_POLICY_MAX(NLA_U32, MAX_ERRNO),
	[HANDSHAKE_A_DONE_SOCKFD] = { .type = NLA_S32 },
	[HANDSHAKE_A_DONE_REMOTE_AUTH] = { .type = NLA_U32 },
	[HANDSHAKE_A_DONE_TAG] = { .type = NLA_STRING, .len = TLSUP_TAG_MAX },
};

static int tlsup_nl_accept_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tlsup_nl_reply reply = { .info = info };
	struct tlsup_accept_cmd cmd = { 0 };
	struct tlsup_core_pernet *core;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, HANDSHAKE_A_ACCEPT_HANDLER_CLASS))
		return -EINVAL;
	cmd.handler_class = nla_get_u32(info->attrs[HANDSHAKE_A_ACCEPT_HANDLER_CLASS]);
	core = tlsup_pernet_get(genl_info_net(info));
	if (!core)
		return -EOPNOTSUPP;
	ret = tlsup_core_cmd_accept(core, &cmd, &reply);
	tlsup_core_pernet_put(core);
	return ret;
}

static int tlsup_nl_done_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tlsup_done_cmd cmd = { 0 };
	struct tlsup_core_pernet *core;
	const struct nlattr *nla;
	int rem, ret;

	if (GENL_REQ_ATTR_CHECK(info, HANDSHAKE_A_DONE_SOCKFD))
		return -EINVAL;
	cmd.sockfd = nla_get_s32(info->attrs[HANDSHAKE_A_DONE_SOCKFD]);
	if (info->attrs[HANDSHAKE_A_DONE_STATUS]) {
		cmd.has_status = true;
		cmd.status = nla_get_u32(info->attrs[HANDSHAKE_A_DONE_STATUS]);
	}
	/* Repeated: info->attrs[] keeps only the last one. */
	nla_for_each_attr(nla, genlmsg_data(info->genlhdr),
			  genlmsg_len(info->genlhdr), rem) {
		if (nla_type(nla) != HANDSHAKE_A_DONE_REMOTE_AUTH)
			continue;
		if (cmd.num_remote < TLSUP_MAX_PEERIDS)
			cmd.remote[cmd.num_remote++] = nla_get_s32(nla);
	}
	core = tlsup_pernet_get(genl_info_net(info));
	if (!core)
		return -EOPNOTSUPP;
	ret = tlsup_core_cmd_done(core, &cmd);
	tlsup_core_pernet_put(core);
	return ret;
}

static const struct genl_ops tlsup_genl_ops[] = {
	{
		.cmd = HANDSHAKE_CMD_ACCEPT,
		.doit = tlsup_nl_accept_doit,
		.policy = tlsup_accept_policy,
		.maxattr = HANDSHAKE_A_ACCEPT_HANDLER_CLASS,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = HANDSHAKE_CMD_DONE,
		.doit = tlsup_nl_done_doit,
		.policy = tlsup_done_policy,
		.maxattr = HANDSHAKE_A_DONE_MAX,
		.flags = GENL_ADMIN_PERM,
	},
};

/*
 * Group index == handler class. Joining needs CAP_NET_ADMIN (where the
 * kernel can say so): an unprivileged listener cannot ACCEPT, so counting
 * it as an agent would let submits succeed with nobody to serve them.
 */
static const struct genl_multicast_group tlsup_genl_mcgrps[] = {
	[HANDSHAKE_HANDLER_CLASS_NONE] = {
		.name = HANDSHAKE_MCGRP_NONE,
		.flags = TLSUP_MCAST_ADMIN,
	},
	[HANDSHAKE_HANDLER_CLASS_TLSHD] = {
		.name = HANDSHAKE_MCGRP_TLSHD,
		.flags = TLSUP_MCAST_ADMIN,
	},
};

struct genl_family tlsup_genl_family = {
	.name = HANDSHAKE_FAMILY_NAME,
	.version = HANDSHAKE_FAMILY_VERSION,
	.netnsok = true,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = tlsup_genl_ops,
	.n_ops = ARRAY_SIZE(tlsup_genl_ops),
	/* Header and strict attribute validation for every command. */
	TLSUP_GENL_RESV_START_OP
	.mcgrps = tlsup_genl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(tlsup_genl_mcgrps),
};

#ifdef TLSUP_KUNIT_HOOKS
/* The KUnit suites join its groups and send it real messages. */
TLSUP_EXPORT_SYMBOL_NS_GPL(tlsup_genl_family, TLSUP_KUNIT);
#endif

int tlsup_genl_register(void)
{
	return genl_register_family(&tlsup_genl_family);
}

void tlsup_genl_unregister(void)
{
	genl_unregister_family(&tlsup_genl_family);
}

/*
 * genl_has_listeners() is global across namespaces, so only the multicast
 * can tell: -ESRCH means nobody in this namespace received it (no agent:
 * the submit fails, as upstream). An agent that set NETLINK_BROADCAST_ERROR
 * and whose queue overflowed makes it -ENOBUFS instead: that agent exists,
 * sees the overrun and drains with ACCEPT until -EAGAIN.
 */
int tlsup_shim_notify_ready(struct tlsup_pernet *pn, unsigned int class_,
			    unsigned int gfp)
{
	struct sk_buff *msg;
	void *hdr;
	int ret;

	if (!genl_has_listeners(&tlsup_genl_family, pn->net, class_))
		return -ESRCH;
	msg = genlmsg_new(nla_total_size(sizeof(u32)), (__force gfp_t)gfp);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put(msg, 0, 0, &tlsup_genl_family, 0, HANDSHAKE_CMD_READY);
	if (!hdr || nla_put_u32(msg, HANDSHAKE_A_ACCEPT_HANDLER_CLASS, class_)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	ret = genlmsg_multicast_netns(&tlsup_genl_family, pn->net, msg, 0,
				      class_, (__force gfp_t)gfp);
	return ret == -ENOBUFS ? 0 : ret;
}

/* The reply's attributes, in the order DESIGN §1 fixes. */
static int tlsup_nl_put_accept(struct sk_buff *msg,
			       const struct tlsup_accept_reply *r)
{
	struct nlattr *nest;
	unsigned int i;

	if (nla_put_s32(msg, HANDSHAKE_A_ACCEPT_SOCKFD, r->sockfd) ||
	    nla_put_u32(msg, HANDSHAKE_A_ACCEPT_MESSAGE_TYPE, r->msg_type))
		return -EMSGSIZE;
	if (r->peername &&
	    nla_put_string(msg, HANDSHAKE_A_ACCEPT_PEERNAME, r->peername))
		return -EMSGSIZE;
	if (r->timeout_ms &&
	    nla_put_u32(msg, HANDSHAKE_A_ACCEPT_TIMEOUT, r->timeout_ms))
		return -EMSGSIZE;
	if (nla_put_u32(msg, HANDSHAKE_A_ACCEPT_AUTH_MODE, r->auth_mode))
		return -EMSGSIZE;
	if (r->auth_mode == HANDSHAKE_AUTH_PSK) {
		for (i = 0; i < r->num_peerids && i < TLSUP_MAX_PEERIDS; i++)
			if (nla_put_u32(msg, HANDSHAKE_A_ACCEPT_PEER_IDENTITY,
					r->peerids[i]))
				return -EMSGSIZE;
	} else if (r->auth_mode == HANDSHAKE_AUTH_X509 &&
		   (r->cert || r->privkey)) {
		nest = nla_nest_start(msg, HANDSHAKE_A_ACCEPT_CERTIFICATE);
		if (!nest ||
		    nla_put_s32(msg, HANDSHAKE_A_X509_CERT, r->cert) ||
		    nla_put_s32(msg, HANDSHAKE_A_X509_PRIVKEY, r->privkey))
			return -EMSGSIZE;
		nla_nest_end(msg, nest);
	}
	if (r->keyring &&
	    nla_put_u32(msg, HANDSHAKE_A_ACCEPT_KEYRING, r->keyring))
		return -EMSGSIZE;
	return 0;
}

int tlsup_shim_accept_reply(struct tlsup_nl_reply *reply,
			    const struct tlsup_accept_reply *r)
{
	struct genl_info *info = reply->info;
	struct sk_buff *msg;
	void *hdr;
	int ret;

	msg = genlmsg_new(GENLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &tlsup_genl_family, 0,
				info->genlhdr->cmd);
	if (!hdr) {
		ret = -EMSGSIZE;
		goto out_free;
	}
	ret = tlsup_nl_put_accept(msg, r);
	if (ret)
		goto out_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

out_free:
	nlmsg_free(msg);
	return ret;
}
