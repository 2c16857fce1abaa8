#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The reconnect storm benchmark, inside a 6.12 kernel with net/handshake
# and its consumers: Debian's stock 6.12 under qemu, or UML's "upstream"
# flavour (tools/bench/storm.sh boots it). Writes one JSON object per storm
# to $TLSUP_RUN/storm.jsonl.
#
# BENCH_PROFILE=full   stock: NVMe/TCP 8, 32 and 72 controllers with the
#                      kernel's default I/O queues (one per CPU); UML (one
#                      CPU): 18 and 72 controllers x 3 I/O queues (read/
#                      write, write, poll); NFS: 8 and 32 mounts;
#                      BENCH_REPEAT storms each (default 3)
# BENCH_PROFILE=smoke  4 controllers x 1 I/O queue, 2 mounts, once
# BENCH_NVME_POINTS ("N Q" pairs, e.g. "72 0") and BENCH_NFS_POINTS (mount
# counts) replace a profile's points; an empty one runs none of that kind.
set -u
B=$TLSUP_ROOT/build/release
OUT=$TLSUP_RUN/storm.jsonl
AGENT_LOG=/run/storm-agent.log
profile=${BENCH_PROFILE:-full}
# A qemu guest's run directory is 9p: scratch files on tmpfs.
cd "${TLSUP_WORK:-$TLSUP_RUN}" || exit 1
: >"$OUT"
. "$TLSUP_ROOT/tools/uml/private-root.sh"
. "$TLSUP_ROOT/tools/bench/storm_lib.sh"
private_root || exit 10
ulimit -n 65536

case $profile in
full)
	if [ -d "/lib/modules/$(uname -r)/kernel" ]; then
		nvme_points=("8 0" "32 0" "72 0") # a distribution kernel, several CPUs
	else
		nvme_points=("18 3" "72 3") # UML: one CPU, so at most 3 I/O queues
	fi
	nfs_points=(8 32)
	repeat=${BENCH_REPEAT:-3}
	;;
smoke)
	nvme_points=("4 1")
	nfs_points=(2)
	repeat=1
	;;
*) echo "storm: unknown profile $profile"; exit 2 ;;
esac
[ "${BENCH_NVME_POINTS+set}" ] && IFS=, read -r -a nvme_points <<<"$BENCH_NVME_POINTS"
[ "${BENCH_NFS_POINTS+set}" ] && read -r -a nfs_points <<<"$BENCH_NFS_POINTS"

# The agent as installed: one worker per CPU, the default log level (a
# line per handshake), its log on tmpfs as a journal would take it.
agent_start() {
	# A restart (storm_agent_accept_latency) keeps what the agent before
	# it logged.
	[ -s "$AGENT_LOG" ] && cat "$AGENT_LOG" >>"$AGENT_LOG.before"
	: >"$AGENT_LOG"
	agent_args=("$@")
	"$B/agent/tlsupd" "$@" >>"$AGENT_LOG" 2>&1 &
	agent_pid=$!
	for _ in $(seq 200); do
		grep -q 'tlsupd running' "$AGENT_LOG" && return 0
		sleep 0.05
	done
	echo "storm: tlsupd did not start: $(tail -n 3 "$AGENT_LOG")"
	return 1
}
agent_stop() {
	kill "$agent_pid"
	wait "$agent_pid"
	cat "$AGENT_LOG.before" "$AGENT_LOG" >"$TLSUP_RUN/agent-$1.log" 2>/dev/null
}

echo "storm: $profile profile, $(nproc) CPU, $(awk '/^MemTotal/ { print $2 }' /proc/meminfo) kB RAM," \
	"pending bound $(storm_pending_max)"
status=0
# NVMe needs no configuration: the keys are in .nvme.
storm_nfs_pki "${nfs_points[-1]:-1}" /run/storm-pki
agent_start -c "$STORM_NFS_CONF" || exit 11
# nvmet's configfs tree and the .nvme keyring exist once the modules are
# in (a stock kernel's are modules; UML's are built in).
modprobe -qa nvmet-tcp nvme-tcp 2>/dev/null
for p in "${nvme_points[@]}"; do
	read -r n q <<<"$p"
	storm_nvme_setup "$n" "$q" || { status=1; break; }
	for r in $(seq "$repeat"); do
		storm_nvme_reset "nvme $n x $q #$r" | tee -a "$OUT"
	done
	storm_nvme_teardown
	# Not in a pipeline: it restarts the agent, and $agent_pid must change
	# here, not in a subshell.
	storm_agent_accept_latency "nvme $n" >"$TLSUP_RUN/accept.json" || status=1
	tee -a "$OUT" <"$TLSUP_RUN/accept.json"
done
[ ${#nfs_points[@]} = 0 ] || storm_nfs_server || { echo "storm: nfsd did not start"; exit 12; }
for m in "${nfs_points[@]}"; do
	storm_nfs_mount_all "$m" || { echo "storm: the first $m mounts failed"; status=1; break; }
	for r in $(seq "$repeat"); do
		storm_nfs_remount "nfs $m #$r" | tee -a "$OUT"
	done
	storm_nfs_teardown
	storm_agent_accept_latency "nfs $m" >"$TLSUP_RUN/accept.json" || status=1
	tee -a "$OUT" <"$TLSUP_RUN/accept.json"
done
agent_stop storm
grep -c '^{' "$OUT" >/dev/null || status=1
exit $status
