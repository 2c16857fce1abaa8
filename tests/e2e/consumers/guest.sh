#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own TLS consumers through tlsupd, inside UML on the 6.12
# "upstream" kernel (in-tree net/handshake): the NVMe/TCP host and target
# (TLS 1.3 PSK) and the NFS client and server (xprtsec=tls|mtls), with
# Debian's nvme-cli and nfs-utils. Prints TAP. E2E_ONLY="regex" narrows the
# cases.
#
# The set-up follows Documentation/admin-guide.rst step for step: every
# "e2e-snippet" of the guide runs here verbatim (snippet NAME), and
# tests/e2e/consumers/run checks that none was left out.
set -u
# shellcheck source=tests/e2e/consumers/lib.sh
. "$TLSUP_ROOT/tests/e2e/consumers/lib.sh"
cd "$WORK" || exit 1

# ---- the guest's own /etc, NFS state and trees; tlsupd and tlsupctl in PATH ----
. "$TLSUP_ROOT/tools/uml/private-root.sh"
private_system() {
	private_root || return 1
	ln -s "$TLSUPD" /run/bin/tlsupd
	ln -s "$TLSUPCTL" /run/bin/tlsupctl
	: >"$WORK/snippets-run"
	: >"$WORK/agent.log"
	echo 1 >"$TRACE/events/handshake/enable"
	echo 1 >"$TRACE/events/sunrpc/rpc_tls_not_started/enable"
	# Timestamps in nanoseconds (the default clock ticks in jiffies here).
	echo mono >"$TRACE/trace_clock"
	echo 8192 >"$TRACE/buffer_size_kb"
}

# tlsupd as the systemd unit would run it, in the background; its log
# (stderr, journald's priority prefixes) goes to $WORK/agent.log.
agent_start() {
	local from _
	from=$(wc -l <"$WORK/agent.log")
	tlsupd "$@" >>"$WORK/agent.log" 2>&1 &
	agent_pid=$!
	# This agent's "running" line, not an earlier agent's.
	for _ in $(seq 100); do
		tail -n +$((from + 1)) "$WORK/agent.log" | grep -q 'tlsupd running' && return 0
		sleep 0.05
	done
	log "agent did not start"
	tail -n 20 "$WORK/agent.log"
	return 1
}

agent_stop() {
	[ -n "${agent_pid:-}" ] || return 0
	kill "$agent_pid" 2>/dev/null
	wait "$agent_pid" 2>/dev/null
	agent_pid=
}

. "$TLSUP_ROOT/tests/e2e/consumers/nvme.sh"
. "$TLSUP_ROOT/tests/e2e/consumers/nfs.sh"
. "$TLSUP_ROOT/tests/e2e/consumers/storm.sh"

echo "TAP version 13"
genl ctrl get name handshake >/dev/null 2>&1 ||
	{ echo "Bail out! this kernel has no in-tree handshake family"; exit 1; }
log "kernel $(uname -r), in-tree net/handshake"
private_system || { echo "Bail out! private /etc, tmpfs and kernel file systems"; exit 1; }

for c in "${NVME_CASES[@]}" "${NFS_CASES[@]}" "${STORM_CASES[@]}"; do
	name=${c%%|*}
	fn=${c#*|}
	if [ -n "${E2E_ONLY:-}" ] && ! [[ $name =~ $E2E_ONLY ]]; then
		continue
	fi
	run_case "$name" "$fn"
done
echo "1..$case_no"
nvme_cleanup
nfs_cleanup
agent_stop
echo "# consumers: $cases_passed passed, $cases_failed failed"
dmesg >"$WORK/dmesg"
[ "$cases_failed" = 0 ]
