/* SPDX-License-Identifier: GPL-2.0 */
/* The KUnit suites of tlsup_kunit.ko, registered in main.c. */
#ifndef _TLSUP_KUNIT_SUITES_H
#define _TLSUP_KUNIT_SUITES_H

#include <kunit/test.h>

extern struct kunit_suite tlsup_api_suite;
extern struct kunit_suite tlsup_genl_suite;
extern struct kunit_suite tlsup_lifecycle_suite;
extern struct kunit_suite tlsup_serial_suite;
extern struct kunit_suite tlsup_failnth_suite;

#endif /* _TLSUP_KUNIT_SUITES_H */
