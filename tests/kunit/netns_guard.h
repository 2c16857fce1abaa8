/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tlsup_kunit_netns.ko: runs a function from a pernet exit that comes after
 * tlsup's (see netns_guard.c).
 */
#ifndef _TLSUP_KUNIT_NETNS_GUARD_H
#define _TLSUP_KUNIT_NETNS_GUARD_H

struct net;

int tlsup_kunit_netns_on_exit(struct net *net, void (*fn)(void *), void *data);

#endif /* _TLSUP_KUNIT_NETNS_GUARD_H */
