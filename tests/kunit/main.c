// SPDX-License-Identifier: GPL-2.0
/*
 * tlsup_kunit: KUnit suites for tlsup.ko. They run when the module is
 * loaded; results are in /sys/kernel/debug/kunit/<suite>/results.
 */

#include <kunit/test.h>
#include <linux/module.h>

#include "suites.h"
#include "../../kernel/shim/compat.h"

#if IS_ENABLED(CONFIG_FAULT_INJECTION)
kunit_test_suites(&tlsup_api_suite, &tlsup_genl_suite, &tlsup_lifecycle_suite,
		  &tlsup_serial_suite, &tlsup_failnth_suite);
#else
kunit_test_suites(&tlsup_api_suite, &tlsup_genl_suite, &tlsup_lifecycle_suite,
		  &tlsup_serial_suite);
#endif

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit suites for tlsup");
TLSUP_MODULE_IMPORT_NS(TLSUP_KUNIT);
