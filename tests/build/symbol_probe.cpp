// SPDX-License-Identifier: GPL-2.0
// Build-check probe (never part of tlsup.ko): a call outside the symbol
// allow-list. Built only with TLSUP_PROBE=symbol, where the C++ object
// check must refuse it.
extern "C" int printk(const char *fmt, ...);

extern "C" int tlsup_probe_call(void) {
	return printk("probe\n");
}
