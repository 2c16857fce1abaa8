#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the guest: tlsup.ko loaded and unloaded $STRESS_CYCLES times while two
# agents (genl_fuzz --hammer), one in the initial namespace and one in a
# second, ACCEPT and DONE as fast as they can. Every tenth cycle the test
# consumer makes real requests, which the agents end, before it goes again.
# Every insmod and rmmod must succeed; the console must stay clean.
set -u
cd "${TLSUP_WORK:-$PWD}" || exit 1
M=${TLSUP_MODULES:-$TLSUP_ROOT/build/module/uml-$TLSUP_VERSION-$TLSUP_FLAVOUR}
FUZZ=$TLSUP_ROOT/build/release/tests/stress/genl_fuzz
CTL=/sys/kernel/debug/tlsup_testmod/ctl
cycles=${STRESS_CYCLES:-200}
fail=0
bad() { echo "modload: FAIL: $*"; fail=1; }

ip netns add stress2 || exit 10
ip -n stress2 link set lo up
"$FUZZ" --hammer 100000 >agent1.out 2>&1 &
a1=$!
ip netns exec stress2 "$FUZZ" --hammer 100000 >agent2.out 2>&1 &
a2=$!

start=$(date +%s.%N)
requests=0
for i in $(seq 1 "$cycles"); do
	insmod "$M/tlsup.ko" max_pending=64 || { bad "insmod $i"; break; }
	if [ $((i % 10)) = 0 ]; then
		insmod "$M/tools/testmod/tlsup_testmod.ko" || bad "testmod insmod $i"
		echo "start id=1 role=server port=$((7000 + i)) auth=x509 timeout=2000 count=4 wait_ms=10000" >"$CTL"
		echo "start id=2 port=$((7000 + i)) auth=anon peername=x timeout=2000 count=4 wait_ms=10000" >"$CTL"
		echo "wait id=2 timeout=30000" >"$CTL" || bad "cycle $i: clients did not finish"
		echo "wait id=1 timeout=30000" >"$CTL" || bad "cycle $i: servers did not finish"
		# A hello refused (no agent joined yet: -ESRCH) made no request;
		# every other one ends in exactly one callback.
		wrong=$(awk '/^group=[0-9]+ idx=/ {
			refused = $0 ~ /error=hello refused/
			if ((refused && $0 !~ /calls=0/) || (!refused && $0 !~ /calls=1/)) print }' \
			/sys/kernel/debug/tlsup_testmod/results)
		[ -z "$wrong" ] || bad "cycle $i: $(echo "$wrong" | head -3)"
		requests=$((requests + $(grep -c 'calls=1' /sys/kernel/debug/tlsup_testmod/results)))
		echo reset >"$CTL"
		rmmod tlsup_testmod || bad "testmod rmmod $i"
	fi
	# The family is live for a moment, with the agents on it.
	usleep=$(( (i * 7919) % 20 ))
	sleep "0.0$usleep" 2>/dev/null || true
	tries=0
	until rmmod tlsup 2>rmmod.err; do
		# A request's socket may still be on its way out (deferred fput).
		tries=$((tries + 1))
		[ "$tries" -lt 50 ] || { bad "rmmod $i: $(cat rmmod.err)"; break 2; }
		sleep 0.1
	done
done
end=$(date +%s.%N)
kill -TERM "$a1" "$a2"
wait
cat agent1.out agent2.out
grep -q 'family appearances' agent1.out || bad "agent 1 did not report"
[ "$requests" -gt 0 ] || bad "no consumer request was ever ended by the agents"
echo "modload: $i load/unload cycles in $(echo "$end - $start" | bc) s, $requests consumer requests ended"
ip netns del stress2
if [ -e /sys/kernel/debug/kmemleak ]; then
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	sleep 1
	echo scan >/sys/kernel/debug/kmemleak
	if grep -q tlsup /sys/kernel/debug/kmemleak; then
		bad "kmemleak reports tlsup objects"
		head -30 /sys/kernel/debug/kmemleak
	fi
fi
exit $fail
