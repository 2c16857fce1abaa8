#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The reconnect storm benchmark (make bench): the kernel's own NVMe/TCP host
# and target and NFS client and server, reconnecting at once through tlsupd,
# on Debian's stock 6.12 under qemu (BENCH_TARGET=stock-6.12, the default)
# or the 6.12 "upstream" UML kernel (BENCH_TARGET=uml-6.12-upstream). Writes
# build/bench/storm-PROFILE[-TARGET].json and prints a table.
#
#   tools/bench/storm.sh [full|smoke]
#
# BENCH_MEM is the guest's RAM, which sets upstream's bound on requests
# waiting for the agent (clamp(RAM / 100 MiB, 3, 50)): default 2048M on
# stock (bound 5), 4096M for UML's full profile, 1024M for smoke;
# BENCH_CPUS the guest's CPUs (stock: 2); BENCH_REPEAT the storms per
# point; BENCH_RECONNECT_DELAY the NVMe host's reconnect_delay (the
# kernel's 10 s by default); BENCH_NVME_POINTS / BENCH_NFS_POINTS the
# points instead of the profile's (tools/bench/storm_guest.sh: "72 0" runs
# only 72 controllers, "" none); BENCH_ACCEPTOR_REALTIME=false the agent's
# acceptor without SCHED_FIFO ([agent] acceptor_realtime), for a storm
# side by side with the default; BENCH_TRACE_SCHED=1 keeps each storm's trace
# with the acceptor's scheduling (tools/bench/storm_lib.sh).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
profile=${1:-full}
out=$root/build/bench
mkdir -p "$out" "$root/build/uml"
[ -e "$root/build/release/agent/tlsupd" ] || { echo "storm: tlsupd is missing (make agent)"; exit 1; }
target=${BENCH_TARGET:-stock-6.12}
case $target in
uml-*)
	mem=${BENCH_MEM:-$([ "$profile" = full ] && echo 4096M || echo 1024M)}
	cpus=1
	;;
*)
	mem=${BENCH_MEM:-$([ "$profile" = full ] && echo 2048M || echo 1024M)}
	cpus=${BENCH_CPUS:-2}
	;;
esac
name=storm-$profile-$target
rm -f "$out/$name.jsonl" "$out/$name.json" # this run's figures only
log=$(mktemp "$root/build/uml/$name.XXXXXX.log")
echo "storm: $profile profile on $target, $cpus CPU(s), $mem (console: $log)"
# A smoke that hangs must not hold make check for an hour: 10 minutes.
limit=${BENCH_TIMEOUT:-$([ "$profile" = smoke ] && echo 600 || echo 3600)}
start=$(date +%s)
BENCH_PROFILE=$profile TLSUP_KEEP_RUNS=1 "$root/tools/target.sh" run "$target" -c "$cpus" \
	-t "$limit" -m "$mem" -l "$log" -- "$root/tools/bench/storm_guest.sh"
status=$?
run=$(grep -a -o 'TLSUP_RUN=[^ ]*' "$log" | head -n 1 | cut -d= -f2 | tr -d '\r')
cp "$run/storm.jsonl" "$out/$name.jsonl" 2>/dev/null
BENCH_GUEST="$target, $cpus CPU(s), $mem${BENCH_ACCEPTOR_REALTIME:+, acceptor_realtime $BENCH_ACCEPTOR_REALTIME}" python3 "$root/tools/bench/storm_report.py" \
	"$out/$name.jsonl" "$out/$name.json" "$(date -u +%FT%TZ)" "$(nproc)" \
	"$(( $(date +%s) - start ))" "$profile"
rstatus=$?
if ! "$root/scripts/check-console" "$log" >/dev/null; then
	echo "storm: kernel reports on the console ($log)"
	rstatus=1
fi
[ "$status" = 0 ] || { echo "storm: guest exited $status; see $run/output"; tail -n 20 "$run/output"; }
[ "$status" = 0 ] && [ "$rstatus" = 0 ] && [ "${BENCH_TRACE_SCHED:-}" != 1 ] && rm -rf "$run"
[ "$status" = 0 ] && [ "$rstatus" = 0 ]
