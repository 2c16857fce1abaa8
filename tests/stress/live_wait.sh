# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by the guest scripts that check that every request is gone
# (tests/stress/genl_fuzz_guest.sh, tests/e2e/lib.sh). A request lives
# until its socket is destroyed, and an orphaned TCP socket (its file
# closed) can outlive its file while TCP finishes the connection:
# FIN_WAIT1 or LAST_ACK retransmitting to a peer that vanished, FIN_WAIT2
# up to tcp_fin_timeout. Each such request holds a module reference, so
# rmmod tlsup fails meanwhile too. That is TCP's time, not a leak: a check
# waits for it, bounded, and fails at once for anything TCP does not
# explain, printing /proc/net/tlsup's list (whose "ended" lines say what
# holds each socket). TLSUP_PROC names another file to read (tests).

# Every wait here is fork-free (bash's own read, EPOCHSECONDS): the e2e
# harness runs it after every case, and each fork and exec of a command
# costs 0.1-0.5 s of a TCG guest's CPU (tools/vm; measured: 20 greps
# 12 s, 20 "sleep 0.01" 6.4 s, 20 reads of a file with bash's read 0.8 s).

# tlsup_nap SECONDS: sleep without a fork: a read with a timeout from a
# pipe that this shell holds both ends of (nothing ever arrives). Falls
# back to sleep(1) where the pipe cannot be had.
tlsup_nap() {
	if [ -z "${TLSUP_NAP_FD:-}" ]; then
		exec {TLSUP_NAP_FD}<> <(:) 2>/dev/null || TLSUP_NAP_FD=none
	fi
	if [ "$TLSUP_NAP_FD" = none ]; then
		sleep "$1"
	else
		read -r -t "$1" -u "$TLSUP_NAP_FD" _ || :
	fi
}

# tlsup_read_counts [FILE]: the "NAME: N" lines of /proc/net/tlsup (or
# FILE) into TLSUP_N[NAME], read at once (one snapshot) without a fork;
# TLSUP_N is empty if the file cannot be read.
declare -gA TLSUP_N=()
tlsup_read_counts() {
	local l lines=()
	TLSUP_N=()
	mapfile -t lines 2>/dev/null <"${1:-${TLSUP_PROC:-/proc/net/tlsup}}" || return 0
	for l in "${lines[@]}"; do
		[[ $l =~ ^([a-z_]+):\ ([0-9]+)$ ]] && TLSUP_N[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
	done
	return 0
}

# Prints one line per live request that no orphaned, closing TCP socket
# explains; nothing if every live request is accounted for that way.
tlsup_live_unexplained() {
	local proc=${TLSUP_PROC:-/proc/net/tlsup}
	[ -e "$proc" ] || return 0
	awk '
	/^live: / { live = $2 }
	/^  id=/ {
		listed++
		delete f
		for (i = 1; i <= NF; i++) {
			eq = index($i, "=")
			if (eq)
				f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
		}
		if (f["state"] != "ended")
			why = "not ended (" f["state"] ")"
		else if (f["refs"] != "1")
			why = "held by a reference besides its socket'\''s (refs=" f["refs"] ")"
		else if (f["orphan"] != "1")
			why = "its socket still has a file or descriptor"
		else if (f["sk_state"] ~ /^(FIN_WAIT1|FIN_WAIT2|CLOSING|LAST_ACK)$/ ||
			 (f["sk_state"] == "CLOSE" && f["sk_refs"] == "0"))
			next	# TCP is closing it, or its sent data is being freed
		else
			why = "an orphaned socket in " f["sk_state"] " with sk_refs=" f["sk_refs"]
		print "request " f["id"] ": " why ":" $0
	}
	END {
		if (live > listed)
			printf "%d live request(s) on no list: held with their socket gone\n",
			       live - listed
	}' "$proc"
}

# tlsup_wait_gone BOUND LONG: waits up to BOUND seconds for pending,
# inflight and live to be 0; past BOUND, keeps waiting up to LONG seconds
# in all as long as every live request is an ended one whose orphaned
# socket TCP is still closing. Returns 0 when everything went (and prints
# "tlsup_wait_gone: ..." if it took TCP's time), 1 with the reason and the
# list otherwise (each line prefixed with "tlsup_wait_gone: ").
tlsup_wait_gone() {
	local bound=$1 long=$2 t0 now why proc=${TLSUP_PROC:-/proc/net/tlsup}
	[ -e "$proc" ] || return 0
	t0=$EPOCHSECONDS
	while :; do
		tlsup_read_counts "$proc"
		if [ "${TLSUP_N[pending]:-}" = 0 ] && [ "${TLSUP_N[inflight]:-}" = 0 ] &&
			[ "${TLSUP_N[live]:-}" = 0 ]; then
			now=$((EPOCHSECONDS - t0))
			[ "$now" -lt "$bound" ] ||
				echo "tlsup_wait_gone: everything was gone ${now} s after the run (TCP was closing orphaned sockets)"
			return 0
		fi
		now=$((EPOCHSECONDS - t0))
		if [ "$now" -ge "$bound" ]; then
			why=$(tlsup_live_unexplained)
			if [ -n "$why" ] || [ "$now" -ge "$long" ]; then
				{
					if [ -n "$why" ]; then
						echo "left ${now} s after the run, not by TCP:"
						echo "$why" | cut -d: -f1,2
					else
						echo "left ${now} s after the run, TCP still closing their sockets"
					fi
					grep -E '^(pending|inflight|live|requests):|^  ' "$proc"
					echo "tlsup refcnt: $(cat /sys/module/tlsup/refcnt 2>/dev/null || echo '?')"
					# TCP's view of every connection: state, timer, window.
					[ -n "${TLSUP_PROC:-}" ] || ss -tanoeim 2>/dev/null | grep -v LISTEN | head -n 80
				} | sed 's/^/tlsup_wait_gone: /'
				return 1
			fi
		fi
		tlsup_nap 0.2
	done
}
