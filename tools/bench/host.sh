#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The agent's own cost, on the host (tools/bench/agent_cost.cpp): CPU per
# handshake against a bare GnuTLS client doing the same handshake, system
# calls and keyctl per handshake, and how many workers one request wakes;
# x509 and PSK, one worker and two. No kernel needed: the agent runs
# against a fake "handshake" family in the same process.
#
#   tools/bench/host.sh [full|smoke]
#
# BENCH_AGENT_COST: another agent_cost binary (an older revision's, for a
# before/after table).
#
# smoke (make check): a few handshakes each, and the structural bounds
# asserted (system calls, keyctl, one worker woken per request); no time is.
# System calls are counted through the raw_syscalls:sys_enter tracepoint;
# where tracefs is not mounted the runs go into a private mount namespace
# with their own (root only), else the counts are reported missing.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
profile=${1:-full}
bin=${BENCH_AGENT_COST:-$root/build/release/tools/bench/agent_cost}
[ -x "$bin" ] || { echo "bench-host: $bin is missing (make agent)"; exit 1; }
out=$root/build/bench
pki=$out/host-pki
mkdir -p "$out" "$pki"

# ECDSA P-256, as the guest benchmark's PKI.
if [ ! -s "$pki/server.pem" ]; then
	(
		cd "$pki" || exit 1
		gen() { certtool "$@" >/dev/null 2>&1; }
		gen --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile ca.key
		printf 'cn = bench CA\nca\ncert_signing_key\nexpiration_days = 3650\n' >ca.tmpl
		gen --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
		gen --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile server.key
		printf 'cn = localhost\ndns_name = localhost\ntls_www_server\nexpiration_days = 3650\n' \
			>server.tmpl
		gen --generate-certificate --load-privkey server.key --load-ca-certificate ca.pem \
			--load-ca-privkey ca.key --template server.tmpl --outfile server.pem
	) || { echo "bench-host: cannot make the PKI (certtool)"; exit 1; }
fi
psk=bench-identity:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Runs agent_cost where the tracepoint is visible, on one CPU
# (BENCH_HOST_CPU, default the last): the agent's threads, the bare client
# and the server then share it as in a one-vCPU guest, and neither side of
# the comparison pays for moving between CPUs.
cpu=${BENCH_HOST_CPU:-$(( $(nproc) - 1 ))}
pin=()
command -v taskset >/dev/null && pin=(taskset -c "$cpu")
run() {
	if [ -r /sys/kernel/tracing/events/raw_syscalls/sys_enter/id ] ||
		[ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
		"${pin[@]}" "$bin" "$@"
	else
		"${pin[@]}" unshare --mount --propagation private sh -c \
			'mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; exec "$@"' sh "$bin" "$@"
	fi
}

case $profile in
smoke)
	rounds=1 count=10
	bounds=(--max-syscalls "${BENCH_MAX_SYSCALLS:-16}" --max-woken 1)
	;;
*)
	rounds=${BENCH_ROUNDS:-20} count=${BENCH_COUNT:-100}
	bounds=()
	;;
esac
jsonl=$out/host-$profile.jsonl
: >"$jsonl"
status=0
for auth in x509 psk; do
	for workers in 1 2; do
		args=(--auth "$auth" --workers "$workers" --rounds "$rounds" --count "$count")
		if [ "$auth" = x509 ]; then
			args+=(--ca "$pki/ca.pem" --cert "$pki/server.pem" --key "$pki/server.key")
		else
			args+=(--psk "$psk")
		fi
		# keyctl on tlsup.ko: none for x509; for PSK the key is described
		# and read: 2 (the request's keyring, a configured one, stays
		# where the ACCEPT linked it: tlsup.ko names it).
		if [ "$profile" = smoke ]; then
			[ "$auth" = x509 ] && args+=(--max-keyctl 0) || args+=(--max-keyctl 2)
		fi
		log=$out/host-$auth-$workers.log
		run "${args[@]}" "${bounds[@]}" 2>"$log.agent" >"$log"
		rc=$?
		grep -v '^{' "$log"
		grep '^{' "$log" >>"$jsonl"
		if [ "$rc" != 0 ]; then
			echo "bench-host: $auth with $workers worker(s) exited $rc (agent log: $log.agent)"
			status=1
		fi
	done
done
# A storm in miniature (full profile): 432 requests as fast as the driver
# submits them against upstream's pending bound of 5 (2 GiB): refusals,
# and the acceptor's READY-to-ACCEPT-reply p99 with the workers saturated.
if [ "$profile" = full ]; then
	for auth in x509 psk; do
		if [ "$auth" = x509 ]; then
			a=(--ca "$pki/ca.pem" --cert "$pki/server.pem" --key "$pki/server.key")
		else
			a=(--psk "$psk")
		fi
		run --auth "$auth" "${a[@]}" --workers 2 --burst 432 --pending-bound 5 --no-syscalls \
			2>"$out/host-burst-$auth.log.agent" | tee "$out/host-burst-$auth.log" | grep -v '^{'
		grep '^{' "$out/host-burst-$auth.log" >>"$jsonl"
	done
fi
python3 - "$jsonl" <<'EOF'
import json, sys
rows = [json.loads(l)["agent_cost"] for l in open(sys.argv[1]) if '"agent_cost"' in l]
print()
print("agent vs bare GnuTLS client, host, one handshake at a time")
print("auth  workers | agent us  GnuTLS us   ratio (p10-p90)     fake us  w/o fake | syscalls  keyctl  woken")
for r in rows:
    k = r.get("by_name", {})
    kc = k.get("keyctl", 0) + k.get("add_key", 0)
    print("%-5s %7d | %8.0f %10.0f   %5.3f (%5.3f-%5.3f) %8.0f %9.3f | %8.2f %7.2f %6s" % (
        r["auth"], r["workers"], r.get("agent_us", 0), r.get("bare_us", 0),
        r.get("ratio", 0), r.get("ratio_p10", 0), r.get("ratio_p90", 0),
        r.get("fake_kernel_us", 0), r.get("ratio_less_fake", 0),
        r.get("syscalls", float("nan")), kc, r.get("woken_max", "-")))
print("(fake us: the fake kernel's own work inside the agent's calls, per handshake -- a real")
print(" kernel's genl processing takes its place; w/o fake: the ratio without it)")
EOF
exit $status
