#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/e2e/lib.sh's per-case checks, on the host with stand-ins for the
# kernel's log, /proc/net/tlsup and the test consumer's files: a case
# fails on a kernel warning logged during it (not before it), on a request
# left in flight or alive, and passes otherwise; its fork-free helpers
# read what the commands they replaced read. Prints TAP; exits 1 on a
# failure.
# shellcheck disable=SC2317,SC2154,SC2031 # cases run by name; slurp assigns by name; a subshell case
set -u
TLSUP_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TLSUP_WORK=$(mktemp -d)
trap 'rm -rf "$TLSUP_WORK"' EXIT
E2E_TIME_SCALE=1
TLSUP_PROC=$TLSUP_WORK/proc
: >"$TLSUP_WORK/agent.log"
KLOG=$TLSUP_WORK/klog
# shellcheck source=tests/e2e/lib.sh
. "$TLSUP_ROOT/tests/e2e/lib.sh"
CTL=$TLSUP_WORK/ctl
RESULTS=$TLSUP_WORK/results
MAX_PENDING=$TLSUP_WORK/no-such-parameter
dmesg() { cat "$KLOG"; }
counts() { printf 'pending: %s\ninflight: %s\nlive: %s\nrequests:\n' "$1" "$2" "$3" >"$TLSUP_PROC"; }
# shellcheck source=tests/e2e/tap_check.sh
. "$TLSUP_ROOT/tests/e2e/tap_check.sh"
# tap CASE-FUNCTION: run_case's TAP line for it, "ok" or "not ok".
tap() { run_case "$1" "$1" | sed -n 's/^\(ok\|not ok\) [0-9]* - .*/\1/p'; }

printf '[    1.0] booted\n[    2.0] WARNING: CPU: 0 PID: 1 at old\n' >"$KLOG"
counts 0 0 0
quiet() { :; }
warns() { echo "[    9.0] WARNING: CPU: 1 PID: 7 at net/x.c:1 f+0x1" >>"$KLOG"; }
leaves_inflight() { counts 0 1 1; }
check "a quiet case passes (a warning before the suite does not count)" ok "$(tap quiet)"
check "a warning during the case fails it" "not ok" "$(klog_seen=2 tap warns)"
printf '[    1.0] booted\n' >"$KLOG"
check "a KASAN report fails it" "not ok" \
	"$(klog_seen=1; kasan() { echo '[ 3.0] BUG: KASAN: slab-use-after-free in x' >>"$KLOG"; }; tap kasan)"
counts 0 0 0
check "a request left in flight fails it (after the bounded wait)" "not ok" \
	"$(tlsup_wait_gone() { :; }; tap leaves_inflight)"
counts 0 0 0

# The helpers against the commands they replaced.
printf 'listening 127.0.0.1:5000\nstatus=ok\n\n\n' >"$TLSUP_WORK/peer.out"
slurp got "$TLSUP_WORK/peer.out"
check "slurp = \$(cat)" "$(cat "$TLSUP_WORK/peer.out")" "$got"
check "file_has: a line's prefix" yes "$(file_has "$TLSUP_WORK/peer.out" listening && echo yes)"
check "file_has: not mid-line" no "$(file_has "$TLSUP_WORK/peer.out" 127.0 || echo no)"
check "file_has: a missing file, quietly" "no:" "$(file_has "$TLSUP_WORK/none" x 2>&1 || echo no:)"
printf 'group=1 idx=0 a\ngroup=12 idx=0 b\ngroup=1 idx=1 c\n' >"$RESULTS"
group=1
group_lines
check "group_lines = grep '^group=1 idx='" "$(grep '^group=1 idx=' "$RESULTS")" "$out"
case_start=${EPOCHREALTIME//[.,]/}
nap 0.2
since -q
check "nap 0.2 then since: 0.2-1.9 s" yes "$([[ $SINCE =~ ^(0\.[2-9]|1\.)[0-9]{2}$ ]] && echo yes || echo "$SINCE")"

# A case that fails a step must still print its TAP line: guest.sh runs
# under set -u, and the family case's restore once killed an unset
# notify_pid when "rmmod tlsup" failed (a request still live), which ended
# the suite after case 37 with no result and no plan (CI, ef89593).
family_fails_rmmod() (
	M=$TLSUP_WORK
	# shellcheck source=tests/e2e/cases.sh
	. "$TLSUP_ROOT/tests/e2e/cases.sh"
	rmmod() { [ "$1" = tlsup_testmod ]; }
	insmod() { :; }
	agent_start() { :; }
	agent_stop() { :; }
	tap case_agent_waits_for_the_family
) 2>/dev/null
counts 0 0 0
: >"$RESULTS"
check "the family case fails, not the suite, when rmmod tlsup fails" "not ok" "$(family_fails_rmmod)"

echo "1..$n"
exit $failed
