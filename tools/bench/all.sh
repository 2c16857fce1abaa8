#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: every benchmark, each guest run under the shared machine's
# heavy lock (BENCH_LOCK, default /work/coord/heavy.lock when it exists;
# empty: no lock), then the figures side by side (build/bench/summary.txt).
#
#  1. host: the agent's CPU per handshake against a bare GnuTLS client,
#     its system calls, keyctl and workers woken per request, a burst
#     against the pending bound (tools/bench/host.sh full), and the
#     instructions of each (tools/bench/host_profile.sh);
#  2. the agent's system calls in Debian's stock 6.1 under qemu, strace's
#     count, at concurrency 1 and 16 (tools/bench/profile.sh);
#  3. the full path against the in-process baseline on stock 6.1: one vCPU
#     with one worker, two vCPUs with two workers against a baseline with
#     two threads (tools/bench/run.sh ratio);
#  4. the reconnect storms of the kernel's NVMe/TCP and NFS consumers on
#     stock 6.12, two vCPUs, 2 GiB (tools/bench/storm.sh full);
#  5. with BENCH_UML=1, the UML tables as well: the upcall benchmark on UML
#     6.1 (run.sh full) and the storms on UML 6.12 upstream;
#  6. issue 17's targets against those figures (tools/bench/targets.py).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b=$root/tools/bench
out=$root/build/bench
mkdir -p "$out"
lock=${BENCH_LOCK-/work/coord/heavy.lock}
heavy() {
	if [ -n "$lock" ] && [ -e "$lock" ]; then
		flock "$lock" "$@"
	else
		"$@"
	fi
}
status=0
step() {
	local name=$1
	shift
	echo "== bench: $name"
	"$@" 2>&1 | tee "$out/all-$name.log"
	local rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || { echo "bench: $name exited $rc"; status=1; }
}

step host "$b/host.sh" full
step host-profile-x509 "$b/host_profile.sh" x509
step host-profile-psk "$b/host_profile.sh" psk
for c in 1 16; do
	for a in x509 psk; do
		step "strace-$a-c$c" heavy env BENCH_TARGET=stock-6.1 BENCH_CPUS=1 \
			BENCH_CONCURRENCY=$c "$b/profile.sh" $a 200 strace
	done
done
step ratio-1cpu heavy env BENCH_TARGET=stock-6.1 BENCH_CPUS=1 BENCH_WORKERS=1 \
	BENCH_INPROC_THREADS=1 "$b/run.sh" ratio
cp "$out/results-ratio.json" "$out/results-ratio-1cpu.json" 2>/dev/null
step ratio-2cpu heavy env BENCH_TARGET=stock-6.1 BENCH_CPUS=2 BENCH_WORKERS=2 \
	BENCH_INPROC_THREADS=2 "$b/run.sh" ratio
cp "$out/results-ratio.json" "$out/results-ratio-2cpu.json" 2>/dev/null
step storm-stock heavy env BENCH_TARGET=stock-6.12 "$b/storm.sh" full
if [ "${BENCH_UML:-0}" = 1 ]; then
	step uml-upcall heavy env BENCH_TARGET=uml-6.1-base "$b/run.sh" full
	step uml-storm heavy env BENCH_TARGET=uml-6.12-upstream "$b/storm.sh" full
fi

{
	echo "== the agent against a bare GnuTLS client (host)"
	sed -n '/^agent vs bare GnuTLS/,$p' "$out/all-host.log"
	grep -h '^agent_cost: burst' "$out/all-host.log"
	for a in x509 psk; do grep -h 'agent, all threads' "$out/host-profile-$a.txt" | sed "s/^/$a:/"; done
	echo "== system calls per handshake in the guest (strace)"
	for f in "$out"/all-strace-*.log; do grep -h '^strace,' "$f"; done
	echo "== full path against the in-process baseline, stock 6.1"
	for n in 1cpu 2cpu; do sed -n '/^guest:/,/^results:/p' "$out/all-ratio-$n.log"; done
	echo "== reconnect storms, stock 6.12"
	sed -n '/^guest:/,$p' "$out/all-storm-stock.log"
	echo "== issue 17's targets"
	python3 "$b/targets.py" "$out"
} 2>&1 | tee "$out/summary.txt"
exit $status
