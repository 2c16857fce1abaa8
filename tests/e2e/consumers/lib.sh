# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# TAP helpers for the real-consumer cases (sourced by guest.sh inside the guest).

TLSUPD=$TLSUP_ROOT/build/release/agent/tlsupd
TLSUPCTL=$TLSUP_ROOT/build/release/agent/tlsupctl
SNIPPET="$TLSUP_ROOT/scripts/rst-snippet"
GUIDE=$TLSUP_ROOT/Documentation/admin-guide.rst
# Sockets go to the guest's tmpfs where the run directory is a 9p share.
WORK=${TLSUP_WORK:-$TLSUP_RUN}
TRACE=/sys/kernel/tracing
case_no=0
cases_passed=0
cases_failed=0
case_failed=0

log() { echo "# $*"; }

expect() {
	if [ "$2" != "$3" ]; then
		log "expected $1 = '$3', got '$2'"
		case_failed=1
	fi
}

# expect_match DESCRIPTION TEXT REGEX
expect_match() {
	if ! [[ $2 =~ $3 ]]; then
		log "expected $1 to match /$3/, got: $(echo "$2" | head -n 3 | tr '\n' ' ')"
		case_failed=1
	fi
}

# expect_ge DESCRIPTION ACTUAL MINIMUM
expect_ge() {
	if ! [ "${2:-0}" -ge "$3" ] 2>/dev/null; then
		log "expected $1 >= $3, got '$2'"
		case_failed=1
	fi
}

fail() {
	log "$*"
	case_failed=1
}

# snippet NAME: runs the admin guide's snippet NAME in this shell, verbatim,
# and records that it ran (tests/e2e/consumers/run checks that every
# snippet of the guide did).
snippet() {
	local text st
	text=$("$SNIPPET" "$GUIDE" "$1") || { fail "no snippet $1 in the admin guide"; return 1; }
	echo "$1" >>"$WORK/snippets-run"
	log "snippet $1:"
	echo "$text" | sed 's/^/#   | /'
	set -e -o pipefail
	eval "$text" >"$WORK/snippet.out" 2>&1
	st=$?
	set +e +o pipefail
	sed 's/^/#   > /' "$WORK/snippet.out" | head -n 40
	[ "$st" = 0 ] || fail "snippet $1 exited $st"
	return "$st"
}

# Kernel handshake events since trace_mark: counts of handshake_complete by
# status ("status=0" lines), submits, accepts.
trace_mark() { echo >"$TRACE/trace"; }
trace_count() { grep -c "$1" "$TRACE/trace"; }

# The agent's log since agent_mark.
agent_mark() { agent_log_from=$(wc -l <"$WORK/agent.log"); }
agent_log() { tail -n +$((agent_log_from + 1)) "$WORK/agent.log"; }

# run_case NAME FUNCTION: TAP line, timing, no new kernel warning.
run_case() {
	local name=$1 fn=$2 start dmesg_before warn secs
	case_no=$((case_no + 1))
	case_failed=0
	start=$(date +%s.%N)
	dmesg_before=$(dmesg | wc -l)
	log "---- $name"
	"$fn"
	warn=$(dmesg | tail -n +$((dmesg_before + 1)) |
		grep -E 'WARNING|BUG|KASAN|Oops|refcount_t|lockdep|circular locking|hung_task' || true)
	if [ -n "$warn" ]; then
		log "kernel warnings during the case:"
		echo "$warn" | head -n 10 | sed 's/^/#   /'
		case_failed=1
	fi
	secs=$(echo "$(date +%s.%N) - $start" | bc)
	if [ "$case_failed" != 0 ]; then
		log "kernel log tail:"
		dmesg | tail -n +$((dmesg_before + 1)) | tail -n 12 | sed 's/^/#   /'
		log "agent log tail:"
		tail -n 8 "$WORK/agent.log" | sed 's/^/#   /'
		echo "not ok $case_no - $name # time=${secs}s"
		cases_failed=$((cases_failed + 1))
	else
		echo "ok $case_no - $name # time=${secs}s"
		cases_passed=$((cases_passed + 1))
	fi
}
