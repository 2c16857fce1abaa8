# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for the end-to-end cases (sourced by guest.sh inside the guest).

CTL=/sys/kernel/debug/tlsup_testmod/ctl
RESULTS=/sys/kernel/debug/tlsup_testmod/results
TLSPEER=$TLSUP_ROOT/build/release/tests/e2e/tlspeer
MAX_PENDING=/sys/module/tlsup/parameters/max_pending
TLSUPD=$TLSUP_ROOT/build/release/agent/tlsupd
TLSUPCTL=$TLSUP_ROOT/build/release/agent/tlsupctl
# Sockets cannot be bound on the 9p share of a qemu guest: its scratch
# directory is on tmpfs (TLSUP_WORK); UML's hostfs run directory allows them.
WORK=${TLSUP_WORK:-$TLSUP_RUN}
group=0
port=5000
case_no=0
case_failed=0
cases_passed=0
cases_failed=0

log() { echo "# $*"; }

# TIME_SCALE: every duration a case hands the consumer (timeout=, cancel_ms=,
# close_ms=, wait_ms=, ctl wait's timeout=), the peers' --timeout and the
# case's own naps are multiplied by it. On the debug kernels under qemu TCG
# (KASAN or KCSAN, lockdep, 4 vCPUs on a loaded 2-core host) a handshake
# takes several times as long as on a stock kernel: a fixed 3 s deadline
# there measures the host's load, not tlsup. Debian's kernels under TCG on
# a loaded host too: a cold make check at load 9-10 saw a PSK handshake
# take 12.9 s and an anonymous one 22.9 s against 10 s deadlines on stock
# 6.1. The events keep their order (a cancel or close still comes well
# before its deadline) and every assertion stays as it is; what grows is
# the wait of the cases that expect a deadline. E2E_TIME_SCALE or
# STRESS_TIME_SCALE overrides (1: the durations as written).
TIME_SCALE=${E2E_TIME_SCALE:-${STRESS_TIME_SCALE:-}}
if [ -z "$TIME_SCALE" ]; then
	case ${TLSUP_TARGET:-} in
	debug-* | kcsan-*) TIME_SCALE=4 ;;
	stock-*) TIME_SCALE=3 ;;
	*) TIME_SCALE=1 ;;
	esac
fi
[[ $TIME_SCALE =~ ^[1-9][0-9]*$ ]] || { echo "Bail out! TIME_SCALE '$TIME_SCALE' is not a positive integer"; exit 1; }
[ "$TIME_SCALE" = 1 ] || log "durations scaled by $TIME_SCALE on ${TLSUP_TARGET:-this kernel}"

# scale_args ARG...: SCALED=(ARGs), each duration (key=MS, a positive
# number; -1 and 0 mean "none" and stay) multiplied by TIME_SCALE. No fork:
# this runs per consumer command.
scale_args() {
	local a v
	SCALED=()
	for a in "$@"; do
		case $a in
		timeout=* | cancel_ms=* | close_ms=* | wait_ms=*)
			v=${a#*=}
			[[ $v =~ ^[1-9][0-9]*$ ]] && a=${a%%=*}=$((v * TIME_SCALE))
			;;
		esac
		SCALED+=("$a")
	done
}

# nap SECONDS: sleep, scaled.
nap() {
	if [ "$TIME_SCALE" = 1 ]; then
		sleep "$1"
	else
		sleep "$(awk -v s="$1" -v k="$TIME_SCALE" 'BEGIN { print s * k }')"
	fi
}

# peer_args ARG...: SCALED=(ARGs) with the peer's --timeout SECONDS scaled.
peer_args() {
	local a prev=
	SCALED=()
	for a in "$@"; do
		if [ "$prev" = --timeout ] && [[ $a =~ ^[0-9]+$ ]]; then
			a=$((a * TIME_SCALE))
		fi
		SCALED+=("$a")
		prev=$a
	done
}

# The seconds since the case began, for step timing in the log.
since() { echo "$(date +%s.%N) - ${case_start:-0}" | bc; }

next_port() { port=$((port + 1)); }

# ctl CMD: one command to the test consumer; the errno is in $ctl_err.
# Durations in it are scaled (TIME_SCALE).
ctl() {
	ctl_err=0
	scale_args "$@"
	echo "${SCALED[*]}" >"$CTL" 2>"$WORK/ctl.err" || ctl_err=$(cat "$WORK/ctl.err")
}

# consumer SPEC...: start a group, wait for it, leave its lines in $out.
consumer() {
	group=$((group + 1))
	ctl start "id=$group" "$@"
	if [ "$ctl_err" != 0 ]; then
		out="start-refused: $ctl_err"
		return 1
	fi
	ctl wait "id=$group" timeout=60000
	[ "$ctl_err" = 0 ] || log "wait for group $group: $ctl_err"
	out=$(grep "^group=$group idx=" "$RESULTS")
	log "consumer group $group finished at $(since)s"
}

# consumer_start SPEC...: start a group and return (servers, races).
consumer_start() {
	group=$((group + 1))
	ctl start "id=$group" "$@"
}

consumer_wait() {
	ctl wait "id=$group" timeout="${1:-60000}"
	out=$(grep "^group=$group idx=" "$RESULTS")
}

# field NAME [LINE]: a key=value of the consumer's (first) result line.
# Bash only: forking is slow under UML and this runs per session.
field() {
	local line=${2:-${out%%$'\n'*}}
	if [ "$1" = error ]; then
		# The last field; its value may contain spaces.
		[[ $line =~ \ error=(.*)$ ]] && echo "${BASH_REMATCH[1]}"
	else
		[[ " $line " =~ \ $1=([^ ]*)\  ]] && echo "${BASH_REMATCH[1]}"
	fi
}

# expect DESCRIPTION ACTUAL WANTED
expect() {
	if [ "$2" != "$3" ]; then
		log "expected $1 = '$3', got '$2'"
		case_failed=1
	fi
}

expect_ne() {
	if [ "$2" = "$3" ]; then
		log "expected $1 != '$3'"
		case_failed=1
	fi
}

# Every consumer line of the last group says status=WANT, calls=1, and
# finished without an error. Parsed without forking (slow under UML).
expect_all() {
	local want=$1 n=0 bad=0 line
	local re="status=$want calls=1 .*phase=done|phase=done status=$want peerid=[-0-9]+ calls=1 "
	while read -r line; do
		[ -z "$line" ] && continue
		n=$((n + 1))
		if [[ $line =~ $re ]] && [[ $line =~ \ error=-$ ]]; then
			continue
		fi
		bad=$((bad + 1))
		[ $bad -le 3 ] && log "bad session: $line"
	done <<<"$out"
	expect "sessions with status $want" "$((n - bad))/$n" "$n/$n"
}

peer_server() {
	peer_args "$@"
	"$TLSPEER" server --port "$port" "${SCALED[@]}" >"$WORK/peer.out" 2>&1 &
	peer_pid=$!
	for _ in $(seq $((50 * TIME_SCALE))); do
		grep -q '^listening' "$WORK/peer.out" 2>/dev/null && return 0
		sleep 0.05
	done
	log "peer did not start: $(cat "$WORK/peer.out")"
	return 1
}

peer_client() {
	peer_args "$@"
	"$TLSPEER" client --port "$port" "${SCALED[@]}" >"$WORK/peer.out" 2>&1 &
	peer_pid=$!
}

# pending_bound N: let N requests wait for the agent at once. tlsup's bound
# is a parameter (run_case puts the default back); upstream's is fixed (3 on
# this guest), so there the caller must keep N under it. Prints the number
# of requests the caller may have waiting at once.
pending_bound() {
	if [ -e "$MAX_PENDING" ]; then
		echo "$1" >"$MAX_PENDING"
		echo "$1"
	else
		echo 3
	fi
}

peer_wait() {
	local st=0
	wait "$peer_pid" || st=$?
	log "peer exited ($st) at $(since)s"
	peer_out=$(cat "$WORK/peer.out")
	return $st
}

peer_stop() {
	kill "$peer_pid" 2>/dev/null
	wait "$peer_pid" 2>/dev/null
	peer_out=$(cat "$WORK/peer.out")
}

agent_start() {
	local before
	before=$(grep -c 'tlsupd running' "$WORK/agent.log" 2>/dev/null)
	"$TLSUPD" -c "$WORK/tlsupd.conf" -d "$@" >>"$WORK/agent.log" 2>&1 &
	agent_pid=$!
	# Ready when it has joined the group: submit no longer says ESRCH. The
	# log is appended to: wait for this agent's line, not an earlier one's.
	for _ in $(seq $((200 * TIME_SCALE))); do
		[ "$(grep -c 'tlsupd running' "$WORK/agent.log")" -gt "${before:-0}" ] && return 0
		sleep 0.05
	done
	log "agent did not start"
	tail -n 20 "$WORK/agent.log"
	return 1
}

# agent_pause: SIGSTOP the agent and wait until every thread has stopped.
# kill(2) only wakes one thread; another one woken by a multicast could
# still ACCEPT before the group stop reaches it.
agent_pause() {
	local st t running
	kill -STOP "$agent_pid"
	for _ in $(seq $((100 * TIME_SCALE))); do
		running=0
		for t in /proc/"$agent_pid"/task/*/stat; do
			st=$(sed 's/.*) //; s/ .*//' "$t" 2>/dev/null) || continue
			[ "$st" = T ] || running=1
		done
		[ "$running" = 0 ] && return 0
		sleep 0.02
	done
	log "agent $agent_pid did not stop"
	return 1
}

agent_stop() {
	[ -n "${agent_pid:-}" ] || return 0
	kill "$agent_pid" 2>/dev/null
	wait "$agent_pid" 2>/dev/null
	agent_pid=
}

# A counter of /proc/net/tlsup ("" where the kernel has its own service).
# shellcheck source=tests/stress/live_wait.sh
. "$TLSUP_ROOT/tests/stress/live_wait.sh"

proc_field() {
	[ -e /proc/net/tlsup ] || return 0
	grep "^$1: " /proc/net/tlsup | cut -d' ' -f2
}

# run_case NAME FUNCTION: TAP line, timing, and the checks every case ends
# with: nothing left in flight and no new kernel warning. A case that sets
# case_skip=REASON is reported as skipped.
run_case() {
	local name=$1 fn=$2 start dmesg_before
	case_no=$((case_no + 1))
	case_failed=0
	start=$(date +%s.%N)
	case_start=$start
	dmesg_before=$(dmesg | wc -l)
	log "---- $name"
	out= peer_out= case_skip=
	"$fn"
	ctl reset
	[ -e "$MAX_PENDING" ] && echo 0 >"$MAX_PENDING"
	log "consumer sockets released at $(since)s"
	local waited
	if [ -e /proc/net/tlsup ]; then
		# Bounded; longer only while TCP is closing orphaned sockets,
		# which hold their requests (tests/stress/live_wait.sh).
		waited=$(tlsup_wait_gone $((5 * TIME_SCALE)) $((60 * TIME_SCALE)))
		[ -z "$waited" ] || printf '%s\n' "${waited//tlsup_wait_gone: /#   }"
		if [ "$(proc_field live)" = 0 ]; then
			log "requests gone at $(since)s"
		else
			log "requests still alive at $(since)s, when the wait gave up"
		fi
		expect "requests in flight after the case" "$(proc_field inflight)" 0
		expect "requests alive after the case" "$(proc_field live)" 0
	fi
	local warn
	warn=$(dmesg | tail -n +$((dmesg_before + 1)) | grep -E 'WARNING|BUG|KASAN|Oops|refcount_t|lockdep|circular locking' || true)
	if [ -n "$warn" ]; then
		log "kernel warnings during the case:"
		echo "$warn" | head -n 10 | sed 's/^/#   /'
		case_failed=1
	fi
	local secs
	secs=$(echo "$(date +%s.%N) - $start" | bc)
	if [ "$case_failed" != 0 ]; then
		log "last consumer result: $(echo "${out:-}" | head -n 2 | tr '\n' ' ')"
		log "last peer output: $(echo "${peer_out:-}" | tail -n 3 | tr '\n' ' ')"
		log "agent log tail:"
		tail -n 6 "$WORK/agent.log" | sed 's/^/#   /'
	fi
	if [ "$case_failed" = 0 ] && [ -n "$case_skip" ]; then
		echo "ok $case_no - $name # SKIP $case_skip"
	elif [ "$case_failed" = 0 ]; then
		echo "ok $case_no - $name # time=${secs}s"
		cases_passed=$((cases_passed + 1))
	else
		echo "not ok $case_no - $name # time=${secs}s"
		cases_failed=$((cases_failed + 1))
	fi
}
