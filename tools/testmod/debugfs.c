// SPDX-License-Identifier: GPL-2.0
/*
 * tlsup_testmod's control files in /sys/kernel/debug/tlsup_testmod/:
 *   ctl      write one command per write(2) (Documentation/tools.rst)
 *   results  one line per session of every group
 */

#include <linux/debugfs.h>
#include <linux/inet.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "testmod.h"

static struct dentry *tm_dir;
static DEFINE_MUTEX(tm_groups_lock);
static LIST_HEAD(tm_groups);

static struct tm_group *tm_find(int id)
{
	struct tm_group *g;

	list_for_each_entry(g, &tm_groups, node)
		if (g->spec.id == id)
			return g;
	return NULL;
}

static int tm_parse_addr(struct tm_spec *spec, const char *addr, u16 port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&spec->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&spec->addr;

	memset(&spec->addr, 0, sizeof(spec->addr));
	if (in4_pton(addr, -1, (u8 *)&sin->sin_addr.s_addr, -1, NULL)) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		spec->family = AF_INET;
		spec->addrlen = sizeof(*sin);
		return 0;
	}
	if (in6_pton(addr, -1, sin6->sin6_addr.s6_addr, -1, NULL)) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		spec->family = AF_INET6;
		spec->addrlen = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static int tm_parse_ids(struct tm_spec *spec, char *v)
{
	char *tok;

	spec->num_peerids = 0;
	while ((tok = strsep(&v, ",")) != NULL) {
		if (spec->num_peerids >= TM_MAX_PEERIDS)
			return -EINVAL;
		if (kstrtos32(tok, 0, &spec->peerids[spec->num_peerids++]))
			return -EINVAL;
	}
	return 0;
}

/* "start role=client|server addr=A port=P auth=anon|x509|psk [key=value...]" */
static int tm_parse_start(char *args, struct tm_spec *spec)
{
	char addr[64] = "127.0.0.1";
	char *tok;
	u16 port = 0;
	int ret = 0;

	memset(spec, 0, sizeof(*spec));
	spec->id = -1;
	spec->count = 1;
	spec->cancel_ms = -1;
	spec->close_ms = -1;
	spec->wait_ms = 30000;
	while (!ret && (tok = strsep(&args, " \t")) != NULL) {
		char *v = strchr(tok, '=');

		if (!*tok)
			continue;
		if (!v)
			return -EINVAL;
		*v++ = 0;
		if (!strcmp(tok, "id"))
			ret = kstrtoint(v, 0, &spec->id);
		else if (!strcmp(tok, "role"))
			spec->server = !strcmp(v, "server");
		else if (!strcmp(tok, "addr"))
			ret = strscpy(addr, v, sizeof(addr)) < 0 ? -EINVAL : 0;
		else if (!strcmp(tok, "port"))
			ret = kstrtou16(v, 0, &port);
		else if (!strcmp(tok, "auth"))
			spec->auth = !strcmp(v, "x509") ? TM_X509 :
				     !strcmp(v, "psk") ? TM_PSK : TM_ANON;
		else if (!strcmp(tok, "peername"))
			ret = strscpy(spec->peername, v, sizeof(spec->peername)) < 0 ?
			      -EINVAL : 0;
		else if (!strcmp(tok, "timeout"))
			ret = kstrtouint(v, 0, &spec->timeout_ms);
		else if (!strcmp(tok, "keyring"))
			ret = kstrtos32(v, 0, &spec->keyring);
		else if (!strcmp(tok, "cert"))
			ret = kstrtos32(v, 0, &spec->cert);
		else if (!strcmp(tok, "privkey"))
			ret = kstrtos32(v, 0, &spec->privkey);
		else if (!strcmp(tok, "peerids"))
			ret = tm_parse_ids(spec, v);
		else if (!strcmp(tok, "send"))
			ret = kstrtou64(v, 0, &spec->send);
		else if (!strcmp(tok, "recv"))
			ret = kstrtou64(v, 0, &spec->recv);
		else if (!strcmp(tok, "echo"))
			spec->echo = !strcmp(v, "1");
		else if (!strcmp(tok, "cancel_ms"))
			ret = kstrtoint(v, 0, &spec->cancel_ms);
		else if (!strcmp(tok, "cancel_after_done"))
			spec->cancel_after_done = !strcmp(v, "1");
		else if (!strcmp(tok, "preset_ulp"))
			spec->preset_ulp = !strcmp(v, "1");
		else if (!strcmp(tok, "close_ms"))
			ret = kstrtoint(v, 0, &spec->close_ms);
		else if (!strcmp(tok, "count"))
			ret = kstrtouint(v, 0, &spec->count);
		else if (!strcmp(tok, "concurrency"))
			ret = kstrtouint(v, 0, &spec->concurrency);
		else if (!strcmp(tok, "wait_ms"))
			ret = kstrtouint(v, 0, &spec->wait_ms);
		else
			ret = -EINVAL;
	}
	if (ret)
		return ret;
	if (spec->id < 0 || !port || !spec->count || spec->count > 100000)
		return -EINVAL;
	/* The API has no anonymous server hello. */
	if (spec->server && spec->auth == TM_ANON)
		return -EINVAL;
	return tm_parse_addr(spec, addr, port);
}

static int tm_cmd_start(char *args)
{
	struct tm_spec *spec;
	struct tm_group *g;
	int ret;

	spec = kzalloc(sizeof(*spec), GFP_KERNEL);
	if (!spec)
		return -ENOMEM;
	ret = tm_parse_start(args, spec);
	if (ret)
		goto out;
	mutex_lock(&tm_groups_lock);
	if (tm_find(spec->id)) {
		ret = -EEXIST;
	} else {
		g = tm_group_start(spec, &ret);
		if (g) {
			list_add_tail(&g->node, &tm_groups);
			ret = 0;
		}
	}
	mutex_unlock(&tm_groups_lock);
out:
	kfree(spec);
	return ret;
}

/* "wait id=N [timeout=MS]", "cancel id=N" */
static int tm_cmd_group(const char *cmd, char *args)
{
	unsigned int timeout = 60000;
	struct tm_group *g;
	char *tok;
	int id = -1, ret = 0;

	while ((tok = strsep(&args, " \t")) != NULL) {
		if (!strncmp(tok, "id=", 3))
			ret = kstrtoint(tok + 3, 0, &id);
		else if (!strncmp(tok, "timeout=", 8))
			ret = kstrtouint(tok + 8, 0, &timeout);
		else if (*tok)
			ret = -EINVAL;
		if (ret)
			return ret;
	}
	mutex_lock(&tm_groups_lock);
	g = tm_find(id);
	mutex_unlock(&tm_groups_lock);
	if (!g)
		return -ENOENT;
	/* Groups are freed only by "reset" or unload, not concurrently with this. */
	if (!strcmp(cmd, "wait"))
		return tm_group_wait(g, timeout);
	tm_group_cancel(g);
	return 0;
}

static void tm_reset(void)
{
	struct tm_group *g, *tmp;

	mutex_lock(&tm_groups_lock);
	list_for_each_entry_safe(g, tmp, &tm_groups, node) {
		list_del(&g->node);
		tm_group_free(g);
	}
	mutex_unlock(&tm_groups_lock);
}

static ssize_t tm_ctl_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	char *buf, *args, *cmd;
	int ret;

	if (len > 2048)
		return -E2BIG;
	buf = memdup_user_nul(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	args = strim(buf);
	cmd = strsep(&args, " \t");
	if (!strcmp(cmd, "start")) {
		ret = tm_cmd_start(args ?: "");
	} else if (!strcmp(cmd, "wait") || !strcmp(cmd, "cancel")) {
		ret = tm_cmd_group(cmd, args ?: "");
	} else if (!strcmp(cmd, "reset")) {
		tm_reset();
		ret = 0;
	} else {
		ret = -EINVAL;
	}
	kfree(buf);
	return ret ? ret : len;
}

static const struct file_operations tm_ctl_fops = {
	.owner = THIS_MODULE,
	.write = tm_ctl_write,
	.llseek = noop_llseek,
};

static int tm_results_show(struct seq_file *m, void *v)
{
	struct tm_group *g;
	char line[384];
	unsigned int i;

	mutex_lock(&tm_groups_lock);
	list_for_each_entry(g, &tm_groups, node) {
		tm_group_format(g, line, sizeof(line));
		seq_puts(m, line);
		for (i = 0; i < g->spec.count; i++) {
			tm_session_format(g->sessions[i], line, sizeof(line));
			seq_puts(m, line);
		}
	}
	mutex_unlock(&tm_groups_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tm_results);

int tm_debugfs_init(void)
{
	tm_dir = debugfs_create_dir("tlsup_testmod", NULL);
	debugfs_create_file("ctl", 0200, tm_dir, NULL, &tm_ctl_fops);
	debugfs_create_file("results", 0400, tm_dir, NULL, &tm_results_fops);
	return 0;
}

void tm_debugfs_exit(void)
{
	debugfs_remove_recursive(tm_dir);
	tm_reset();
}
