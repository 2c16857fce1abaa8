#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/stress/live_wait.sh on made-up /proc/net/tlsup texts: which live
# requests TCP explains (an ended request, refs=1, its orphaned socket
# closing), and which fail the wait at once. Prints TAP; exits 1 on a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/stress/live_wait.sh
. "$here/live_wait.sh"
TLSUP_PROC=$(mktemp)
trap 'rm -f "$TLSUP_PROC"' EXIT
# shellcheck source=tests/e2e/tap_check.sh
. "$here/../e2e/tap_check.sh"
ended() { # ID TCP-STATE REFS ORPHAN [SK_REFS]
	echo "  id=$1 state=ended type=client auth=anon age_ms=9 timeout_ms=0 peername=- ending=done status=0 ended_ms=5 refs=$3 sk_state=$2 sk_refs=${5:-1} sk_wmem=1 orphan=$4"
}
proc() { # LIVE LINES...
	{
		echo "pending: 0"
		echo "inflight: 0"
		echo "live: $1"
		echo "requests:"
		shift
		printf '%s\n' "$@"
	} >"$TLSUP_PROC"
}
unexplained() { tlsup_live_unexplained | cut -d: -f1,2 | tr '\n' '|'; }

proc 2 "$(ended 1 FIN_WAIT1 1 1)" "$(ended 2 LAST_ACK 1 1)"
check "orphans TCP is closing are explained" "" "$(unexplained)"
proc 1 "$(ended 1 CLOSE 1 1 0)"
check "a socket freeing its sent data is explained" "" "$(unexplained)"
proc 1 "$(ended 3 ESTABLISHED 1 0 2)"
check "a socket with a file is not" "request 3: its socket still has a file or descriptor|" "$(unexplained)"
proc 1 "$(ended 4 FIN_WAIT2 2 1)"
check "a second reference is not" "request 4: held by a reference besides its socket's (refs=2)|" "$(unexplained)"
proc 1 "$(ended 5 CLOSE 1 1 1)"
check "an orphan in CLOSE someone holds is not" "request 5: an orphaned socket in CLOSE with sk_refs=1|" "$(unexplained)"
proc 1 "  id=6 state=accepted type=client auth=anon age_ms=9 timeout_ms=0 peername=-"
check "a request in flight is not" "request 6: not ended (accepted)|" "$(unexplained)"
proc 2 "$(ended 7 FIN_WAIT1 1 1)"
check "a live request on no list is not" "1 live request(s) on no list|" "$(unexplained | sed 's/: held.*|/|/')"
proc 0
check "nothing live: the wait returns 0 at once" "0" "$(tlsup_wait_gone 0 0 >/dev/null; echo $?)"
proc 1 "$(ended 8 ESTABLISHED 1 0 2)"
check "an unexplained request fails the wait at the bound" "1" "$(tlsup_wait_gone 0 60 >/dev/null; echo $?)"
# The wait naps without forking and sees a change made meanwhile.
proc 1 "  id=9 state=accepted type=client auth=anon age_ms=9 timeout_ms=0 peername=-"
t0=${EPOCHREALTIME//[.,]/}
tlsup_nap 0.3
check "tlsup_nap 0.3 sleeps 0.25-2 s" "yes" \
	"$(d=$(( ${EPOCHREALTIME//[.,]/} - t0 )); [ "$d" -ge 250000 ] && [ "$d" -lt 2000000 ] && echo yes || echo "no ($d us)")"
check "... on a pipe of its own" "pipe" "$([ "$TLSUP_NAP_FD" != none ] && [ -p "/proc/$$/fd/$TLSUP_NAP_FD" ] && echo pipe)"
( sleep 0.5; proc 0 ) &
check "a request that goes while the wait naps: returns 0" "0" "$(tlsup_wait_gone 5 5 >/dev/null; echo $?)"
wait
tlsup_read_counts
check "tlsup_read_counts: the counters" "0 0 0 -" \
	"${TLSUP_N[pending]-} ${TLSUP_N[inflight]-} ${TLSUP_N[live]-} ${TLSUP_N[requests]--}"
echo "1..$n"
exit $failed
