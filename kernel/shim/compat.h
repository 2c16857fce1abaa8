/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel API difference tlsup's C code meets between 5.15 and the
 * newest mainline, in one place. Shims, the KUnit suites and the test
 * consumer include this instead of testing versions themselves.
 *
 * Built and tested here: 6.1 (UML base and debug, Debian's x86_64 headers),
 * 6.12 without CONFIG_NET_HANDSHAKE (UML). The other branches are written
 * from the kernel's source history (Documentation/admin-guide.rst, "Kernels").
 */
#ifndef _TLSUP_COMPAT_H
#define _TLSUP_COMPAT_H

#include <linux/version.h>
#include <linux/uio.h>
#include <net/genetlink.h>

/* ITER_SOURCE/ITER_DEST (6.2, and 6.1.y): the iterator's direction. */
#ifndef ITER_SOURCE
#define ITER_SOURCE WRITE
#define ITER_DEST READ
#endif

/*
 * Symbol namespaces are string literals from 6.13 on
 * (EXPORT_SYMBOL_NS_GPL(sym, "NS")), bare identifiers before.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define TLSUP_EXPORT_SYMBOL_NS_GPL(sym, ns) EXPORT_SYMBOL_NS_GPL(sym, #ns)
#define TLSUP_MODULE_IMPORT_NS(ns) MODULE_IMPORT_NS(#ns)
#else
#define TLSUP_EXPORT_SYMBOL_NS_GPL(sym, ns) EXPORT_SYMBOL_NS_GPL(sym, ns)
#define TLSUP_MODULE_IMPORT_NS(ns) MODULE_IMPORT_NS(ns)
#endif

/*
 * genl_family.resv_start_op (6.1): commands from it on get their header's
 * reserved byte checked and strict attribute validation. tlsup sets 0: all
 * of them. 5.15 has no field and validates ACCEPT/DONE attributes by their
 * policies only.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#define TLSUP_GENL_RESV_START_OP .resv_start_op = 0,
#else
#define TLSUP_GENL_RESV_START_OP
#endif

/* GENL_REQ_ATTR_CHECK() (6.0): a required attribute, with an extack message. */
#ifndef GENL_REQ_ATTR_CHECK
#define GENL_REQ_ATTR_CHECK(info, attr) (!(info)->attrs[(attr)])
#endif

/*
 * Multicast groups that need CAP_NET_ADMIN to join (6.7, and 6.6.y/6.1.y
 * stable). Without it any process may join "tlshd", and a submit then finds
 * a listener that can never ACCEPT; the kernel deadline still bounds it.
 */
#ifdef GENL_MCAST_CAP_NET_ADMIN
#define TLSUP_MCAST_ADMIN GENL_MCAST_CAP_NET_ADMIN
#define TLSUP_HAVE_MCAST_ADMIN 1
#else
#define TLSUP_MCAST_ADMIN 0
#define TLSUP_HAVE_MCAST_ADMIN 0
#endif

/*
 * Timers: del_timer_sync() became timer_delete_sync() (6.2; the old name
 * went in 6.15), from_timer() became timer_container_of() (6.16).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define timer_delete_sync(t) del_timer_sync(t)
#endif
#ifndef timer_container_of
#define timer_container_of(var, t, field) from_timer(var, t, field)
#endif

/* close_on_exec() takes the files_struct instead of its fdtable (6.11). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define tlsup_close_on_exec(fd, files) close_on_exec(fd, files)
#else
#define tlsup_close_on_exec(fd, files) close_on_exec(fd, files_fdtable(files))
#endif

/*
 * <net/handshake.h> is the kernel's own from 6.4 on, also on kernels built
 * without CONFIG_NET_HANDSHAKE: tlsup then implements the kernel's
 * declarations (and kernel/shim/abi.c checks that its own struct
 * tls_handshake_args, which 6.1 consumers compile against, has the same
 * layout). <net/tls_prot.h> (6.5) has the record and alert constants.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define TLSUP_KERNEL_HAS_HANDSHAKE_H 1
#else
#define TLSUP_KERNEL_HAS_HANDSHAKE_H 0
#endif

#endif /* _TLSUP_COMPAT_H */
