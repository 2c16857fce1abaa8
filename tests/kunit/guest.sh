#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside UML (tools/uml/run.sh): loads tlsup.ko and the KUnit module,
# copies each suite's KTAP results out of debugfs, runs a kmemleak scan on
# kernels that have it, and unloads everything. Output goes to $TLSUP_RUN.
set -u
M=${TLSUP_MODULES:-$TLSUP_ROOT/build/module/uml-$TLSUP_VERSION-$TLSUP_FLAVOUR}
out=$TLSUP_RUN

insmod "$M/tests/kunit/tlsup_kunit_netns.ko" || exit 10
insmod "$M/tlsup.ko" || exit 11
# A process alone in a disposable network namespace, for the drain case.
unshare --net sleep 600 &
netns_pid=$!
sleep 0.3
echo "$netns_pid" >/run/tlsup-kunit-netns.pid
# Fault injection (debug flavour): fail sleeping allocations too, quietly;
# tlsup_failnth arms it per task (current->fail_nth).
for f in failslab fail_page_alloc; do
	d=/sys/kernel/debug/$f
	[ -d "$d" ] || continue
	echo N >"$d/ignore-gfp-wait"
	echo 0 >"$d/verbose"
done
insmod "$M/tests/kunit/tlsup_kunit.ko" || exit 12
for d in /sys/kernel/debug/kunit/tlsup_*/; do
	s=$(basename "$d")
	cp "$d/results" "$out/$s.ktap"
done
# Every request the suites made is gone, and /proc/net/tlsup says so.
cat /proc/net/tlsup >"$out/proc-after"
for want in 'pending: 0' 'inflight: 0' 'live: 0'; do
	grep -qx "$want" "$out/proc-after" || { echo "guest: /proc/net/tlsup lacks '$want'"; exit 16; }
done
grep -q '^requests:$' "$out/proc-after" || exit 16

if [ -e /sys/kernel/debug/kmemleak ]; then
	# Objects must be unreferenced for a while before kmemleak reports them.
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	sleep 1
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >"$out/kmemleak"
fi

rmmod tlsup_kunit || exit 13
rmmod tlsup || exit 14
rmmod tlsup_kunit_netns || exit 15
kill "$netns_pid" 2>/dev/null
dmesg >"$out/dmesg"
exit 0
