#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the guest: the "handshake" family fuzzed as root and as an unprivileged
# user (genl_fuzz) while the test consumer keeps submitting and cancelling.
# Afterwards every consumer request must have ended exactly once (callback
# or successful cancel), nothing may be left in /proc/net/tlsup, and both
# modules must unload. Messages per sender: $STRESS_MESSAGES.
set -u
cd "${TLSUP_WORK:-$PWD}" || exit 1
M=${TLSUP_MODULES:-$TLSUP_ROOT/build/module/uml-$TLSUP_VERSION-$TLSUP_FLAVOUR}
FUZZ=$TLSUP_ROOT/build/release/tests/stress/genl_fuzz
CTL=/sys/kernel/debug/tlsup_testmod/ctl
RES=/sys/kernel/debug/tlsup_testmod/results
n=${STRESS_MESSAGES:-20000}
fail=0
bad() { echo "genl-fuzz: FAIL: $*"; fail=1; }

insmod "$M/tlsup.ko" max_pending=64 || exit 10
# shellcheck source=tests/stress/live_wait.sh
. "$TLSUP_ROOT/tests/stress/live_wait.sh"
# An orphaned socket whose peer vanished retransmits for minutes by
# default: make TCP give up quickly (its requests live until it does).
echo 1 >/proc/sys/net/ipv4/tcp_orphan_retries
echo 5 >/proc/sys/net/ipv4/tcp_fin_timeout
insmod "$M/tools/testmod/tlsup_testmod.ko" || exit 11

"$FUZZ" --messages "$n" --seed 1 >root.out 2>&1 &
root_pid=$!
"$FUZZ" --messages "$n" --seed 2 --unprivileged >nobody.out 2>&1 &
nobody_pid=$!

# A session whose hello succeeded ends in exactly one of callback and
# successful cancel; one whose hello failed (or never ran) in neither.
check_round() {
	awk -v round="$1" '
	/^group=[0-9]+ idx=/ {
		calls = cancel = -9; err = ""
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^calls=/) calls = substr($i, 7) + 0
			if ($i ~ /^cancel=/) cancel = substr($i, 8) + 0
			if ($i ~ /^error=/) { err = substr($0, index($0, "error=") + 6) }
		}
		requested = err !~ /^(hello refused|socket:|connect:|sock_alloc_file|accept:|start:)/
		sessions++
		if (requested) { requests++; ends = calls + (cancel == 1) }
		else ends = calls
		if ((requested && ends != 1) || (!requested && ends != 0)) {
			print "round " round ": " $0; bad++
		}
		if (cancel == 1) cancelled++
		if (calls == 1) called++
	}
	END { printf "round %d: %d sessions, %d requests, %d callbacks, %d cancelled, %d violations\n",
		round, sessions, requests, called, cancelled, bad + 0; exit bad > 0 }' "$RES"
}

round=0
total_rounds_ok=0
while kill -0 "$root_pid" 2>/dev/null || kill -0 "$nobody_pid" 2>/dev/null || [ "$round" -lt 2 ]; do
	round=$((round + 1))
	port=$((6000 + round))
	cancel=-1
	[ $((round % 3)) = 1 ] && cancel=$((round % 40))
	echo "start id=$((round * 2)) role=server port=$port auth=x509 timeout=1500 count=16 wait_ms=12000" >"$CTL" ||
		bad "server group $round did not start"
	echo "start id=$((round * 2 + 1)) port=$port auth=anon peername=fuzz timeout=1500 count=16 concurrency=4 cancel_ms=$cancel wait_ms=12000" >"$CTL" ||
		bad "client group $round did not start"
	echo "wait id=$((round * 2 + 1)) timeout=60000" >"$CTL"
	echo "wait id=$((round * 2)) timeout=60000" >"$CTL"
	if check_round "$round" >round.out; then
		total_rounds_ok=$((total_rounds_ok + 1))
	else
		bad "exactly-once violated: $(head -c 600 round.out)"
	fi
	tail -n 1 round.out
	echo reset >"$CTL"
done
wait "$root_pid" || bad "root fuzzer: $(tail -n 3 root.out)"
wait "$nobody_pid" || bad "unprivileged fuzzer: $(tail -n 3 nobody.out)"
cat root.out nobody.out

# diag LINE...: what a failure needs to be understood, on the console
# (tests/stress/genl-fuzz prints every "genl-fuzz: |" line).
diag() { sed 's/^/genl-fuzz: | /'; }
# state WHY: the kernel's view of what is left: /proc/net/tlsup's gauges
# and its request list (every request on it), the module's references,
# and the TCP sockets still open (a request lives as long as its socket
# holds it; an orphaned socket can outlive its file by tcp_fin_timeout).
state() {
	echo "genl-fuzz: state $1:"
	{
		# The counters are on the summary line; here what is left.
		grep -E '^(pending|inflight|live|requests):|^  ' /proc/net/tlsup
		echo "tlsup refcnt: $(cat /sys/module/tlsup/refcnt 2>/dev/null || echo '(not loaded)')"
		grep -E '^(TCP|TCP6):' /proc/net/sockstat /proc/net/sockstat6 2>/dev/null
		ss -tanH 2>/dev/null | awk '{ n[$1]++ } END { for (s in n) printf "%s:%d ", s, n[s]; print "" }' |
			sed 's/^/tcp sockets by state: /'
	} | diag
}

# The kernel deadline (1.5 s + 2 s) ends whatever the fuzzer accepted:
# everything must be gone within 4 s (the debug kernels under TCG run
# several times slower: STRESS_TIME_SCALE, default 4 there). Past that,
# only requests whose orphaned sockets TCP is still closing may stay, up
# to a minute (x scale); anything else fails at once, with the list
# (tests/stress/live_wait.sh).
case ${STRESS_TIME_SCALE:-} in
'') case ${TLSUP_TARGET:-} in debug-* | kcsan-*) scale=4 ;; *) scale=1 ;; esac ;;
*) scale=$STRESS_TIME_SCALE ;;
esac
if tlsup_wait_gone $((4 * scale)) $((60 * scale)) >wait.out; then
	sed 's/^tlsup_wait_gone: /genl-fuzz: /' wait.out
else
	bad "/proc/net/tlsup: requests left after the run ($(sed -n 's/^tlsup_wait_gone: //p' wait.out | head -n 3 | tr '\n' ' ' | head -c 300))"
	sed 's/^tlsup_wait_gone: //' wait.out | diag
	state "when the wait gave up"
fi
cat /proc/net/tlsup >proc-after
grep -E '^(submitted|completed|cancelled|expired|done_refused):' proc-after | tr '\n' ' '
echo
rmmod tlsup_testmod || bad "tlsup_testmod did not unload"
if ! rmmod tlsup; then
	bad "tlsup did not unload"
	state "when rmmod tlsup failed"
fi
if [ -e /sys/kernel/debug/kmemleak ]; then
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	sleep 1
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >kmemleak
	if grep -q tlsup kmemleak; then
		bad "kmemleak: $(grep -c 'unreferenced object' kmemleak) objects, tlsup's among them"
		head -30 kmemleak
	fi
fi
echo "genl-fuzz: $round consumer rounds, $total_rounds_ok without a violation"
exit $fail
