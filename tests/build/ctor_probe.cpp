// SPDX-License-Identifier: GPL-2.0
// Build-check probe (never part of tlsup.ko): a global object with a
// constructor. Built only with TLSUP_PROBE=ctor, where the C++ object check
// must refuse it.
struct Probe {
	Probe() : value(42) {}
	int value;
};

Probe tlsup_probe_object;
