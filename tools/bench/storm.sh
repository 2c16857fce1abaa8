#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The reconnect storm benchmark (make bench): the kernel's own NVMe/TCP host
# and target and NFS client and server, reconnecting at once through tlsupd
# on the 6.12 "upstream" UML kernel. Writes build/bench/storm-PROFILE.json
# and prints a table.
#
#   tools/bench/storm.sh [full|smoke]
#
# BENCH_MEM (default 4096M for full, 1024M for smoke) is the guest's RAM,
# which sets upstream's bound on requests waiting for the agent
# (clamp(RAM / 100 MiB, 3, 50)); BENCH_REPEAT the storms per point.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
profile=${1:-full}
out=$root/build/bench
mkdir -p "$out" "$root/build/uml"
[ -e "$root/build/release/agent/tlsupd" ] || { echo "storm: tlsupd is missing (make agent)"; exit 1; }
mem=${BENCH_MEM:-$([ "$profile" = full ] && echo 4096M || echo 1024M)}
log=$(mktemp "$root/build/uml/storm-$profile.XXXXXX.log")
echo "storm: $profile profile in UML 6.12 upstream, $mem (console: $log)"
start=$(date +%s)
BENCH_PROFILE=$profile TLSUP_KEEP_RUNS=1 "$root/tools/uml/run.sh" -f upstream \
	-v "${UPSTREAM_VERSION:-6.12}" -t 1800 -m "$mem" -l "$log" -- "$root/tools/bench/storm_guest.sh"
status=$?
run=$(grep -a -o 'TLSUP_RUN=[^ ]*' "$log" | head -n 1 | cut -d= -f2 | tr -d '\r')
cp "$run/storm.jsonl" "$out/storm-$profile.jsonl" 2>/dev/null
python3 "$root/tools/bench/storm_report.py" "$out/storm-$profile.jsonl" "$out/storm-$profile.json" \
	"$(date -u +%FT%TZ)" "$(nproc)" "$(( $(date +%s) - start ))" "$profile"
rstatus=$?
if ! "$root/scripts/check-console" "$log" >/dev/null; then
	echo "storm: kernel reports on the console ($log)"
	rstatus=1
fi
[ "$status" = 0 ] || { echo "storm: guest exited $status; see $run/output"; tail -n 20 "$run/output"; }
[ "$status" = 0 ] && [ "$rstatus" = 0 ] && rm -rf "$run"
[ "$status" = 0 ] && [ "$rstatus" = 0 ]
