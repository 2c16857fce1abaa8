#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The reconnect storm benchmark, inside UML on the 6.12 "upstream" kernel
# (tools/bench/storm.sh boots it). Writes one JSON object per storm to
# $TLSUP_RUN/storm.jsonl.
#
# BENCH_PROFILE=full   NVMe/TCP: 18 and 72 controllers x 3 I/O queues (72
#                      and 288 host handshakes with the admin queues, as
#                      many on the target side); NFS: 8 and 32 mounts;
#                      BENCH_REPEAT storms each (default 3)
# BENCH_PROFILE=smoke  4 controllers x 1 I/O queue, 2 mounts, once
set -u
B=$TLSUP_ROOT/build/release
OUT=$TLSUP_RUN/storm.jsonl
AGENT_LOG=/run/storm-agent.log
profile=${BENCH_PROFILE:-full}
cd "$TLSUP_RUN" || exit 1
: >"$OUT"
. "$TLSUP_ROOT/tools/uml/private-root.sh"
. "$TLSUP_ROOT/tools/bench/storm_lib.sh"
private_root || exit 10
ulimit -n 65536

case $profile in
full)
	nvme_points=("18 3" "72 3")
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

# The agent as installed: one worker per CPU, the default log level (a
# line per handshake), its log on tmpfs as a journal would take it.
agent_start() {
	: >"$AGENT_LOG"
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
	cp "$AGENT_LOG" "$TLSUP_RUN/agent-$1.log"
}

echo "storm: $profile profile, $(nproc) CPU, $(awk '/^MemTotal/ { print $2 }' /proc/meminfo) kB RAM," \
	"pending bound $(storm_pending_max)"
status=0
# NVMe needs no configuration: the keys are in .nvme.
storm_nfs_pki "${nfs_points[-1]}" /run/storm-pki
agent_start -c "$STORM_NFS_CONF" || exit 11
for p in "${nvme_points[@]}"; do
	read -r n q <<<"$p"
	storm_nvme_setup "$n" "$q" || { status=1; break; }
	for r in $(seq "$repeat"); do
		storm_nvme_reset "nvme $n x $q #$r" | tee -a "$OUT"
	done
	storm_nvme_teardown
done
storm_nfs_server || { echo "storm: nfsd did not start"; exit 12; }
for m in "${nfs_points[@]}"; do
	storm_nfs_mount_all "$m" || { echo "storm: the first $m mounts failed"; status=1; break; }
	for r in $(seq "$repeat"); do
		storm_nfs_remount "nfs $m #$r" | tee -a "$OUT"
	done
	storm_nfs_teardown
done
agent_stop storm
grep -c '^{' "$OUT" >/dev/null || status=1
exit $status
