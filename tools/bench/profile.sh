#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/bench/profile.sh [x509|psk] [COUNT] [callgrind|strace]: the agent
# under valgrind's callgrind (default) or strace -c inside UML while the
# test consumer runs COUNT handshakes at concurrency 16. Instruction and
# system call counts do not depend on the machine's load. Writes
# build/bench/callgrind.out and build/bench/profile.txt (the top functions,
# inclusive and exclusive), or build/bench/strace.txt.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/build/bench" "$root/build/uml"
log=$(mktemp "$root/build/uml/profile.XXXXXX.log")
tool=${3:-callgrind}
BENCH_PROFILE=$tool BENCH_AUTH=${1:-x509} BENCH_COUNT=${2:-300} TLSUP_KEEP_RUNS=1 \
	"$root/tools/uml/run.sh" -t 1800 -m 2G -l "$log" -- "$root/tools/bench/guest.sh"
status=$?
run=$(grep -a -o 'TLSUP_RUN=[^ ]*' "$log" | head -n 1 | cut -d= -f2 | tr -d '\r')
if [ "$tool" = strace ]; then
	cp "$run/strace.out" "$root/build/bench/strace.txt" || exit 1
	grep -a '^bench:' "$run/output"
	echo "profile: $root/build/bench/strace.txt"
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
