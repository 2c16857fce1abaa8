// SPDX-License-Identifier: GPL-2.0
/*
 * The "handshake" generic netlink family, wire-compatible with upstream's:
 * READY notifications, ACCEPT and DONE commands, and the attribute writer
 * the core builds ACCEPT replies with.
 */

#include <linux/err.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "../../include/uapi/linux/handshake.h"
#include "shim.h"

/* Carries one ACCEPT's reply from the doit through the core. */
struct tlsup_nl_reply {
	struct genl_info *info;
	struct sk_buff *msg;
	void *hdr;
	struct nlattr *nest;
};

static const struct nla_policy tlsup_accept_policy[HANDSHAKE_A_ACCEPT_HANDLER_CLASS + 1] = {
	[HANDSHAKE_A_ACCEPT_HANDLER_CLASS] =
		NLA_POLICY_MAX(NLA_U32, HANDSHAKE_HANDLER_CLASS_MAX),
};

static const struct nla_policy tlsup_done_policy[HANDSHAKE_A_DONE_MAX + 1] = {
	[HANDSHAKE_A_DONE_STATUS] = NLA_POLICY_MAX(NLA_U32, MAX_ERRNO),
	[HANDSHAKE_A_DONE_SOCKFD] = { .type = NLA_S32 },
	[HANDSHAKE_A_DONE_REMOTE_AUTH] = { .type = NLA_U32 },
	[HANDSHAKE_A_DONE_TAG] = { .type = NLA_NUL_STRING },
};

static struct tlsup_net *tlsup_genl_core(struct genl_info *info)
{
	struct tlsup_pernet *pn = tlsup_pernet(genl_info_net(info));

	return pn ? pn->core : NULL;
}

static int tlsup_nl_accept_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tlsup_nl_reply reply = { .info = info };
	struct tlsup_net *core = tlsup_genl_core(info);

	if (!core)
		return -EOPNOTSUPP;
	return tlsup_core_cmd_accept(core, nlmsg_attrdata(info->nlhdr, GENL_HDRLEN),
				     nlmsg_attrlen(info->nlhdr, GENL_HDRLEN),
				     &reply);
}

static int tlsup_nl_done_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tlsup_net *core = tlsup_genl_core(info);

	if (!core)
		return -EOPNOTSUPP;
	return tlsup_core_cmd_done(core, nlmsg_attrdata(info->nlhdr, GENL_HDRLEN),
				   nlmsg_attrlen(info->nlhdr, GENL_HDRLEN));
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

/* Group index == handler class. */
static const struct genl_multicast_group tlsup_genl_mcgrps[] = {
	[HANDSHAKE_HANDLER_CLASS_NONE] = { .name = HANDSHAKE_MCGRP_NONE },
	[HANDSHAKE_HANDLER_CLASS_TLSHD] = { .name = HANDSHAKE_MCGRP_TLSHD },
};

struct genl_family tlsup_genl_family = {
	.name = HANDSHAKE_FAMILY_NAME,
	.version = HANDSHAKE_FAMILY_VERSION,
	.netnsok = true,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = tlsup_genl_ops,
	.n_ops = ARRAY_SIZE(tlsup_genl_ops),
	/* Strict attribute validation for every command. */
	.resv_start_op = HANDSHAKE_CMD_DONE + 1,
	.mcgrps = tlsup_genl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(tlsup_genl_mcgrps),
};

/* The KUnit suites join its groups and send it real messages. */
EXPORT_SYMBOL_NS_GPL(tlsup_genl_family, TLSUP_KUNIT);

int tlsup_genl_register(void)
{
	return genl_register_family(&tlsup_genl_family);
}

void tlsup_genl_unregister(void)
{
	genl_unregister_family(&tlsup_genl_family);
}

bool tlsup_shim_has_listeners(struct tlsup_knet *knet, unsigned int class_)
{
	return genl_has_listeners(&tlsup_genl_family, from_knet(knet)->net,
				  class_);
}

int tlsup_shim_notify_ready(struct tlsup_knet *knet, unsigned int class_,
			    unsigned int gfp)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(nla_total_size(sizeof(u32)), (__force gfp_t)gfp);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put(msg, 0, 0, &tlsup_genl_family, 0, HANDSHAKE_CMD_READY);
	if (!hdr || nla_put_u32(msg, HANDSHAKE_A_ACCEPT_HANDLER_CLASS, class_)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_multicast_netns(&tlsup_genl_family, from_knet(knet)->net,
				       msg, 0, class_, (__force gfp_t)gfp);
}

int tlsup_nl_reply_begin(struct tlsup_nl_reply *reply)
{
	struct genl_info *info = reply->info;

	reply->msg = genlmsg_new(GENLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!reply->msg)
		return -ENOMEM;
	reply->hdr = genlmsg_put(reply->msg, info->snd_portid, info->snd_seq,
				 &tlsup_genl_family, 0, info->genlhdr->cmd);
	if (!reply->hdr) {
		nlmsg_free(reply->msg);
		reply->msg = NULL;
		return -EMSGSIZE;
	}
	return 0;
}

int tlsup_nl_put_u32(struct tlsup_nl_reply *reply, unsigned int type,
		     unsigned int value)
{
	return nla_put_u32(reply->msg, type, value);
}

int tlsup_nl_put_s32(struct tlsup_nl_reply *reply, unsigned int type, int value)
{
	return nla_put_s32(reply->msg, type, value);
}

int tlsup_nl_put_string(struct tlsup_nl_reply *reply, unsigned int type,
			const char *value)
{
	return nla_put_string(reply->msg, type, value);
}

int tlsup_nl_nest_start(struct tlsup_nl_reply *reply, unsigned int type)
{
	reply->nest = nla_nest_start(reply->msg, type);
	return reply->nest ? 0 : -EMSGSIZE;
}

void tlsup_nl_nest_end(struct tlsup_nl_reply *reply)
{
	nla_nest_end(reply->msg, reply->nest);
	reply->nest = NULL;
}

int tlsup_nl_reply_send(struct tlsup_nl_reply *reply)
{
	struct sk_buff *msg = reply->msg;

	reply->msg = NULL;
	genlmsg_end(msg, reply->hdr);
	return genlmsg_reply(msg, reply->info);
}

void tlsup_nl_reply_abort(struct tlsup_nl_reply *reply)
{
	nlmsg_free(reply->msg);
	reply->msg = NULL;
}
