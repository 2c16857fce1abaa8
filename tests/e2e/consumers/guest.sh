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

# ---- a private system: the guest's root is the host's, read-write ----
# /etc is copied into the guest's memory and bound over itself, so the
# guide's /etc/tlsupd, /etc/nvme, /etc/exports and /etc/fstab are the
# guest's own; NFS state and the exported trees live in tmpfs too.
private_system() {
	cp -a /etc /run/etc && mount --bind /run/etc /etc || return 1
	local d
	for d in /var/lib/nfs /srv /mnt; do
		mount -t tmpfs tmpfs "$d" || return 1
	done
	mkdir -p /var/lib/nfs/rpc_pipefs /var/lib/nfs/v4recovery /var/lib/nfs/nfsdcltrack
	mount -t configfs configfs /sys/kernel/config || return 1
	# udev's links, which bash's <(...) needs (/dev is the guest's devtmpfs).
	ln -sfn /proc/self/fd /dev/fd
	mount -t nfsd nfsd /proc/fs/nfsd || return 1
	# The consumers are built in: modprobe of a built-in module succeeds
	# without /lib/modules for this kernel.
	mkdir -p /run/bin
	cat >/run/bin/modprobe <<'EOS'
#!/bin/sh
m=$(echo "$1" | tr - _)
[ -d "/sys/module/$m" ] && exit 0
echo "modprobe: $1 is not built into this kernel" >&2
exit 1
EOS
	chmod +x /run/bin/modprobe
	ln -s "$TLSUPD" /run/bin/tlsupd
	ln -s "$TLSUPCTL" /run/bin/tlsupctl
	export PATH=/run/bin:$PATH
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
	tlsupd "$@" >>"$WORK/agent.log" 2>&1 &
	agent_pid=$!
	local _
	for _ in $(seq 100); do
		grep -q 'tlsupd running' "$WORK/agent.log" && return 0
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

echo "TAP version 13"
genl ctrl get name handshake >/dev/null 2>&1 ||
	{ echo "Bail out! this kernel has no in-tree handshake family"; exit 1; }
log "kernel $(uname -r), in-tree net/handshake"
private_system || { echo "Bail out! private /etc, tmpfs and kernel file systems"; exit 1; }

for c in "${NVME_CASES[@]}" "${NFS_CASES[@]}"; do
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
