#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/bench/profile.sh [x509|psk] [COUNT] [callgrind|strace|perf]: the
# agent under valgrind's callgrind (default), strace or perf inside a guest
# (BENCH_TARGET, default stock-6.1; BENCH_CPUS) while the test consumer
# runs COUNT handshakes at concurrency BENCH_CONCURRENCY (16). Instruction
# and system call counts do not depend on the machine's load. Writes
# build/bench/callgrind.out and build/bench/profile.txt (the top functions,
# inclusive and exclusive), or build/bench/strace.txt: the agent's system
# calls per handshake, by name, counted from the consumer's first request
# to its last DONE (start-up and shutdown left out).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/build/bench" "$root/build/uml"
log=$(mktemp "$root/build/uml/profile.XXXXXX.log")
tool=${3:-callgrind}
count=${2:-300}
target=${BENCH_TARGET:-stock-6.1}
BENCH_PROFILE=$tool BENCH_AUTH=${1:-x509} BENCH_COUNT=$count TLSUP_KEEP_RUNS=1 \
	"$root/tools/target.sh" run "$target" ${BENCH_CPUS:+-c "$BENCH_CPUS"} -t 1800 -m 2G -l "$log" \
	-- "$root/tools/bench/guest.sh"
status=$?
run=$(grep -a -o 'TLSUP_RUN=[^ ]*' "$log" | head -n 1 | cut -d= -f2 | tr -d '\r')
if [ "$tool" = perf ]; then
	[ -s "$run/perf-dso.txt" ] || { echo "profile: no perf output (guest exit $status; $run/output)"; exit 1; }
	for f in perf-stat perf-dso perf-sym perf-incl perf-callers perf-inproc-sym; do
		cp "$run/$f.txt" "$root/build/bench/$f-${1:-x509}.txt"
	done
	grep -a '^bench:' "$run/output"
	echo "profile: $root/build/bench/perf-{stat,dso,sym,incl,callers,inproc-sym}-${1:-x509}.txt"
	rm -rf "$run"
	exit 0
fi
if [ "$tool" = strace ]; then
	[ -s "$run/strace.out" ] || { echo "profile: no strace output (guest exit $status; $run/output)"; exit 1; }
	python3 - "$run/strace.out" "$(cat "$run/strace.from")" "$(cat "$run/strace.to")" "$count" \
		"${1:-x509}" "$target" "${BENCH_CPUS:-default}" "${BENCH_CONCURRENCY:-16}" \
		<<'EOF' | tee "$root/build/bench/strace.txt"
import re, sys
trace, t0, t1, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
auth, target, cpus, conc = sys.argv[5:9]
calls, secs = {}, {}
start = re.compile(r"^\d+\s+(\d+\.\d+)\s+([a-z_0-9]+)\(")
resumed = re.compile(r"^\d+\s+(\d+\.\d+)\s+<\.\.\. ([a-z_0-9]+) resumed>")
took = re.compile(r"<(\d+\.\d+)>\s*$")
for line in open(trace, errors="replace"):
    m = start.match(line) or resumed.match(line)
    if not m or not (t0 <= float(m.group(1)) <= t1):
        continue
    if m.re is start:
        calls[m.group(2)] = calls.get(m.group(2), 0) + 1
    d = took.search(line)  # -T: the time inside the call (blocking included)
    if d:
        secs[m.group(2)] = secs.get(m.group(2), 0.0) + float(d.group(1))
total = sum(calls.values())
print("strace, %s, %d handshakes at concurrency %s, %s (%s vCPUs): %.2f system calls per handshake"
      % (auth, n, conc, target, cpus, total / n))
print("  %-16s %7s %12s" % ("call", "per hs", "ms inside"))
for name, c in sorted(calls.items(), key=lambda kv: -kv[1]):
    print("  %-16s %7.2f %12.3f" % (name, c / n, 1e3 * secs.get(name, 0.0) / n))
EOF
	grep -a '^bench:' "$run/output"
	cp "$run/strace.out" "$root/build/bench/strace-${1:-x509}.out" 2>/dev/null
	rm -rf "$run"
	exit 0
fi
out=$(ls "$run"/callgrind.out.* 2>/dev/null | head -n 1)
[ -n "$out" ] || { echo "profile: no callgrind output (guest exit $status; $run/output)"; exit 1; }
cp "$out" "$root/build/bench/callgrind.out"
{
	echo "== inclusive"
	callgrind_annotate --inclusive=yes "$out" 2>/dev/null | head -n 60
	echo "== exclusive"
	callgrind_annotate "$out" 2>/dev/null | head -n 45
} >"$root/build/bench/profile.txt"
grep -a '^bench:' "$run/output"
echo "profile: $root/build/bench/profile.txt"
rm -rf "$run"
