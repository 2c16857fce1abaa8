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

# The harness forks as little as it can: each fork and exec costs 0.1-0.5 s
# of a TCG guest's CPU (tests/stress/live_wait.sh), and its per-case
# bookkeeping once forked some 40 times (date, bc, grep, dmesg, sleep...),
# more than a handshake's own cost. Waits nap with tlsup_nap, files are
# read with bash's read and mapfile, clocks are EPOCHREALTIME.

# now_us: microseconds since the epoch into NOW_US.
now_us() { NOW_US=${EPOCHREALTIME//[.,]/}; }

# slurp VAR FILE: FILE's text into VAR (trailing newlines dropped, as
# $(cat FILE) does); empty if FILE cannot be read.
slurp() {
	local -n slurp_to=$1
	slurp_to=
	IFS= read -r -d "" slurp_to 2>/dev/null <"$2" || :
	while [[ $slurp_to == *$'\n' ]]; do slurp_to=${slurp_to%$'\n'}; done
}

# file_has FILE PREFIX: FILE has a line that begins with PREFIX.
file_has() {
	local l
	while IFS= read -r l || [ -n "$l" ]; do
		[[ $l == "$2"* ]] && return 0
	done 2>/dev/null <"$1"
	return 1
}

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
	local ms frac
	# SECONDS with up to three decimals.
	if [[ $1 =~ ^([0-9]*)(\.([0-9]{1,3}))?$ ]]; then
		frac=${BASH_REMATCH[3]}000
		ms=$(((10#${BASH_REMATCH[1]:-0} * 1000 + 10#${frac:0:3}) * TIME_SCALE))
		printf -v frac '%03d' $((ms % 1000))
		tlsup_nap "$((ms / 1000)).$frac"
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
# since: into SINCE; "$(since)" prints it (a fork, no exec).
since() {
	local d
	now_us
	d=$((NOW_US - ${case_start:-0}))
	printf -v SINCE '%d.%03d' $((d / 1000000)) $((d / 1000 % 1000))
	[ "${1:-}" = -q ] || echo "$SINCE"
}

next_port() { port=$((port + 1)); }

# ctl CMD: one command to the test consumer; the errno is in $ctl_err.
# Durations in it are scaled (TIME_SCALE).
ctl() {
	ctl_err=0
	scale_args "$@"
	echo "${SCALED[*]}" >"$CTL" 2>"$WORK/ctl.err" || slurp ctl_err "$WORK/ctl.err"
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
	group_lines
	since -q
	log "consumer group $group finished at ${SINCE}s"
}

# group_lines: the result lines of the consumer's group $group into $out.
group_lines() {
	local l lines=()
	out=
	mapfile -t lines <"$RESULTS"
	for l in "${lines[@]}"; do
		[[ $l == "group=$group idx="* ]] && out+=${out:+$'\n'}$l
	done
	return 0
}

# consumer_start SPEC...: start a group and return (servers, races).
consumer_start() {
	group=$((group + 1))
	ctl start "id=$group" "$@"
}

consumer_wait() {
	ctl wait "id=$group" timeout="${1:-60000}"
	group_lines
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
	# Emptied here, before the fork: the wait below must not find the last
	# peer's "listening" before the child's own redirection empties it.
	: >"$WORK/peer.out"
	"$TLSPEER" server --port "$port" "${SCALED[@]}" >"$WORK/peer.out" 2>&1 &
	peer_pid=$!
	local i
	for ((i = 0; i < 50 * TIME_SCALE; i++)); do
		file_has "$WORK/peer.out" listening && return 0
		tlsup_nap 0.05
	done
	slurp peer_out "$WORK/peer.out"
	log "peer did not start: $peer_out"
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
	since -q
	log "peer exited ($st) at ${SINCE}s"
	slurp peer_out "$WORK/peer.out"
	return $st
}

# peer_stop: the peer reports each connection when it ends (the consumer's
# close comes a moment after its result): it gets up to a second (scaled)
# to exit on its own, then is killed.
peer_stop() {
	local i
	for ((i = 0; i < 50 * TIME_SCALE; i++)); do
		kill -0 "$peer_pid" 2>/dev/null || break
		tlsup_nap 0.02
	done
	[ "$i" -lt $((50 * TIME_SCALE)) ] || log "peer still running after $TIME_SCALE s: killed"
	kill "$peer_pid" 2>/dev/null
	wait "$peer_pid" 2>/dev/null
	slurp peer_out "$WORK/peer.out"
}

# agent_log_count PATTERN: how many lines of the agent's log match.
agent_log_count() { grep -c -- "$1" "$WORK/agent.log" 2>/dev/null; }

# agent_log_wait PATTERN N STEPS: waits (STEPS naps of 50 ms, scaled)
# until more than N lines of the agent's log match PATTERN. The log is
# appended to across agents: N is the count before the awaited line.
agent_log_wait() {
	local i
	for ((i = 0; i < $3 * TIME_SCALE; i++)); do
		[ "$(agent_log_count "$1")" -gt "${2:-0}" ] && return 0
		tlsup_nap 0.05
	done
	return 1
}

agent_start() {
	local before
	before=$(agent_log_count 'tlsupd running')
	"$TLSUPD" -c "$WORK/tlsupd.conf" -d "$@" >>"$WORK/agent.log" 2>&1 &
	agent_pid=$!
	# Ready when it has joined the group: submit no longer says ESRCH.
	agent_log_wait 'tlsupd running' "$before" 200 && return 0
	log "agent did not start"
	tail -n 20 "$WORK/agent.log"
	return 1
}

# agent_pause: SIGSTOP the agent and wait until every thread has stopped.
# kill(2) only wakes one thread; another one woken by a multicast could
# still ACCEPT before the group stop reaches it.
agent_pause() {
	local st t running i
	kill -STOP "$agent_pid"
	for ((i = 0; i < 100 * TIME_SCALE; i++)); do
		running=0
		for t in /proc/"$agent_pid"/task/*/stat; do
			IFS= read -r st <"$t" 2>/dev/null || continue
			# The state follows the command's closing parenthesis.
			st=${st##*) }
			[ "${st%% *}" = T ] || running=1
		done
		[ "$running" = 0 ] && return 0
		tlsup_nap 0.02
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
	[ -e "${TLSUP_PROC:-/proc/net/tlsup}" ] || return 0
	tlsup_read_counts
	echo "${TLSUP_N[$1]:-}"
}

# run_case NAME FUNCTION: TAP line, timing, and the checks every case ends
# with: nothing left in flight and no new kernel warning. A case that sets
# case_skip=REASON is reported as skipped.
run_case() {
	local name=$1 fn=$2 start klog=()
	case_no=$((case_no + 1))
	case_failed=0
	now_us
	start=$NOW_US
	case_start=$start
	# The kernel's log lines before the case: counted once, then carried
	# from each case's end to the next (one dmesg per case).
	if [ -z "${klog_seen:-}" ]; then
		mapfile -t klog < <(dmesg)
		klog_seen=${#klog[@]}
	fi
	log "---- $name"
	out= peer_out= case_skip=
	"$fn"
	ctl reset
	[ -e "$MAX_PENDING" ] && echo 0 >"$MAX_PENDING"
	since -q
	log "consumer sockets released at ${SINCE}s"
	local waited
	if [ -e "${TLSUP_PROC:-/proc/net/tlsup}" ]; then
		# Bounded; longer only while TCP is closing orphaned sockets,
		# which hold their requests (tests/stress/live_wait.sh).
		tlsup_wait_gone $((5 * TIME_SCALE)) $((60 * TIME_SCALE)) >"$WORK/wait.out"
		slurp waited "$WORK/wait.out"
		[ -z "$waited" ] || printf '%s\n' "${waited//tlsup_wait_gone: /#   }"
		tlsup_read_counts
		since -q
		if [ "${TLSUP_N[live]:-}" = 0 ]; then
			log "requests gone at ${SINCE}s"
		else
			log "requests still alive at ${SINCE}s, when the wait gave up"
		fi
		expect "requests in flight after the case" "${TLSUP_N[inflight]:-}" 0
		expect "requests alive after the case" "${TLSUP_N[live]:-}" 0
	fi
	local l warn=() shown=0
	mapfile -t klog < <(dmesg)
	for l in "${klog[@]:klog_seen}"; do
		[[ $l =~ WARNING|BUG|KASAN|Oops|refcount_t|lockdep|circular\ locking ]] && warn+=("$l")
	done
	klog_seen=${#klog[@]}
	if [ "${#warn[@]}" -gt 0 ]; then
		log "kernel warnings during the case:"
		for l in "${warn[@]}"; do
			[ $((shown += 1)) -le 10 ] && echo "#   $l"
		done
		case_failed=1
	fi
	local secs d
	now_us
	d=$((NOW_US - start))
	printf -v secs '%d.%06d' $((d / 1000000)) $((d % 1000000))
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
