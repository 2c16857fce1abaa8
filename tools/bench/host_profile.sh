#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/bench/host_profile.sh [x509|psk]: instructions per handshake of the
# agent's threads and of the bare GnuTLS client beside it (agent_cost under
# valgrind's callgrind, which counts instructions the same whatever the
# machine's load). Two runs that differ only in their number of handshakes;
# the difference divided by the extra handshakes is what one handshake
# costs, start-up excluded. Writes build/bench/host-profile-AUTH.txt with
# the worker's top functions (inclusive).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
auth=${1:-x509}
bin=$root/build/release/tools/bench/agent_cost
out=$root/build/bench
pki=$out/host-pki
[ -x "$bin" ] || { echo "host_profile: $bin is missing (make agent)"; exit 1; }
[ -s "$pki/server.pem" ] || "$root/tools/bench/host.sh" smoke >/dev/null 2>&1
[ -s "$pki/server.pem" ] || { echo "host_profile: no PKI in $pki"; exit 1; }
work=$(mktemp -d "/tmp/host-profile.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ "$auth" = psk ]; then
	args=(--auth psk --psk "bench-identity:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')")
else
	args=(--auth x509 --ca "$pki/ca.pem" --cert "$pki/server.pem" --key "$pki/server.key")
fi
# Threads in the order agent_cost makes them: 1 main (the bare client and
# the driver), 2 the GnuTLS server; every later one is the agent's.
small=10 large=40
for n in $small $large; do
	valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$work/cg.$n.%p" \
		"$bin" "${args[@]}" --rounds 2 --count $n --no-syscalls >/dev/null 2>"$work/log.$n" ||
		{ echo "host_profile: agent_cost under valgrind failed ($work/log.$n)"; exit 1; }
done
python3 - "$work" "$small" "$large" "$auth" <<'EOF' | tee "$out/host-profile-$auth.txt"
import glob, re, sys
work, small, large, auth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def totals(n):
    out = {}
    for f in glob.glob("%s/cg.%d.*-*" % (work, n)):
        t = int(re.search(r"-(\d+)$", f).group(1))
        for line in open(f):
            if line.startswith("summary:") or line.startswith("totals:"):
                out[t] = int(line.split()[1])
                break
    return out
a, b = totals(small), totals(large)
# Each run: warm-up 5 agent + 5 bare, then 2 rounds of N each way.
extra = 2 * (large - small)
per = {t: (b.get(t, 0) - a.get(t, 0)) / extra for t in b}
bare = per.get(1, 0)
agent = sum(v for t, v in per.items() if t >= 3)
print("%s: instructions per handshake (callgrind)" % auth)
print("  bare GnuTLS client  %10.0f" % bare)
for t in sorted(per):
    if t >= 3 and per[t] > 100:
        print("  agent thread %-5d  %10.0f" % (t, per[t]))
print("  agent, all threads  %10.0f  (%.3f x the bare client)" % (agent, agent / bare if bare else 0))
busiest = max((t for t in per if t >= 3), key=lambda t: per[t])
open(work + "/busiest", "w").write(glob.glob("%s/cg.%d.*-%02d" % (work, large, busiest))[0])
EOF
worker=$(cat "$work/busiest")
{
	echo "== the agent's busiest thread, inclusive (callgrind_annotate)"
	callgrind_annotate --inclusive=yes "$worker" 2>/dev/null | sed -n '1,/^$/d;p' | head -n 60
} >>"$out/host-profile-$auth.txt"
echo "host_profile: $out/host-profile-$auth.txt"
