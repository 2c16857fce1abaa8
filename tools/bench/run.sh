#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: handshakes/s and latency through the whole upcall (kernel
# consumer -> tlsup.ko -> tlsupd -> GnuTLS server) against the in-process
# GnuTLS limit on the same CPU, inside UML. Writes build/bench/results.json
# and prints a table.
#
#   tools/bench/run.sh [full|smoke]
#
# BENCH_TARGET picks the kernel (tools/target.sh list; default uml-6.1-base,
# e.g. stock-6.1 for Debian's own under qemu, BENCH_CPUS virtual CPUs).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
profile=${1:-full}
target=${BENCH_TARGET:-uml-${UML_VERSION:-6.1}-base}
out=$root/build/bench
mkdir -p "$out" "$root/build/uml"
for f in "$root/build/release/tools/bench/bench_server" "$root/build/release/tools/bench/inproc" \
	"$root/build/release/agent/tlsupd" \
	"$("$root/tools/target.sh" moddir "$target")/tools/testmod/tlsup_testmod.ko"; do
	[ -e "$f" ] || { echo "bench: $f is missing (tools/target.sh modules $target; make agent)"; exit 1; }
done
# A run's figures are its own: nothing of an earlier run may be reported
# (or counted by tools/bench/smoke) when this one writes none.
rm -f "$out/$profile.jsonl" "$out/results-$profile.json"
log=$(mktemp "$root/build/uml/bench-$profile.XXXXXX.log")
echo "bench: $profile profile on $target (console: $log)"
# A smoke that hangs must not hold make check for an hour: 10 minutes.
limit=${BENCH_TIMEOUT:-$([ "$profile" = smoke ] && echo 600 || echo 3600)}
start=$(date +%s)
BENCH_PROFILE=$profile TLSUP_KEEP_RUNS=1 "$root/tools/target.sh" run "$target" ${BENCH_CPUS:+-c "$BENCH_CPUS"} \
	-t "$limit" -m 3G -l "$log" -- "$root/tools/bench/guest.sh"
status=$?
run=$(grep -a -o 'TLSUP_RUN=[^ ]*' "$log" | head -n 1 | cut -d= -f2 | tr -d '\r')
cp "$run/bench.jsonl" "$out/$profile.jsonl" 2>/dev/null
BENCH_GUEST="$target, ${BENCH_CPUS:-default} vCPU(s), ${BENCH_WORKERS:-1} worker(s), in-process baseline ${BENCH_INPROC_THREADS:-1} thread(s)" \
	python3 "$root/tools/bench/report.py" "$out/$profile.jsonl" "$out/results-$profile.json" \
	"$(date -u +%FT%TZ)" "$(nproc)" "$(( $(date +%s) - start ))"
rstatus=$?
[ "$status" = 0 ] || { echo "bench: guest exited $status; see $run/output"; tail -n 20 "$run/output"; }
[ "$status" = 0 ] && [ "$rstatus" = 0 ] && rm -rf "$run"
[ "$status" = 0 ] && [ "$rstatus" = 0 ]
