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
	t0=$(date +%s)
	while :; do
		if grep -qx 'pending: 0' "$proc" && grep -qx 'inflight: 0' "$proc" &&
			grep -qx 'live: 0' "$proc"; then
			now=$(($(date +%s) - t0))
			[ "$now" -lt "$bound" ] ||
				echo "tlsup_wait_gone: everything was gone ${now} s after the run (TCP was closing orphaned sockets)"
			return 0
		fi
		now=$(($(date +%s) - t0))
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
		sleep 0.2
	done
}
