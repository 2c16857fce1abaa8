#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: handshakes/s and latency through the whole upcall (kernel
# consumer -> tlsup.ko -> tlsupd -> GnuTLS server) against the in-process
# GnuTLS limit on the same CPU, inside UML. Writes build/bench/results.json
# and prints a table.
#
#   tools/bench/run.sh [full|smoke]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
profile=${1:-full}
out=$root/build/bench
mkdir -p "$out" "$root/build/uml"
for f in "$root/build/release/tools/bench/bench_server" "$root/build/release/tools/bench/inproc" \
	"$root/build/release/agent/tlsupd" \
	"$root/build/module/uml-${UML_VERSION:-6.1}-base/tools/testmod/tlsup_testmod.ko"; do
	[ -e "$f" ] || { echo "bench: $f is missing (make module-uml agent)"; exit 1; }
done
log=$(mktemp "$root/build/uml/bench-$profile.XXXXXX.log")
echo "bench: $profile profile in UML (console: $log)"
start=$(date +%s)
BENCH_PROFILE=$profile TLSUP_KEEP_RUNS=1 "$root/tools/uml/run.sh" -t 3600 -m 3G -l "$log" \
	-- "$root/tools/bench/guest.sh"
status=$?
run=$(grep -a -o 'TLSUP_RUN=[^ ]*' "$log" | head -n 1 | cut -d= -f2)
cp "$run/bench.jsonl" "$out/$profile.jsonl" 2>/dev/null
python3 "$root/tools/bench/report.py" "$out/$profile.jsonl" "$out/results-$profile.json" \
	"$(date -u +%FT%TZ)" "$(nproc)" "$(( $(date +%s) - start ))"
rstatus=$?
[ "$status" = 0 ] || { echo "bench: guest exited $status; see $run/output"; tail -n 20 "$run/output"; }
[ "$status" = 0 ] && [ "$rstatus" = 0 ] && rm -rf "$run"
[ "$status" = 0 ] && [ "$rstatus" = 0 ]
