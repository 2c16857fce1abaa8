#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmarks, inside UML (tools/bench/run.sh boots it). Writes one JSON
# object per line to $TLSUP_RUN/bench.jsonl.
#
# BENCH_PROFILE=full   concurrency 1, 16, 64, 256, 1024 for x509 and PSK,
#                      the in-process baseline at each point, and the
#                      10,000-in-flight scale run
# BENCH_PROFILE=smoke  a few small points, no scale run (make check)
# BENCH_PROFILE=ratio  concurrency 1 and 64 for x509 and PSK against the
#                      in-process baselines (the issue's table), no scale run
# BENCH_ACCEPTOR_REALTIME=false  tlsupd's acceptor without SCHED_FIFO
# BENCH_WORKER_NICE    the workers' nice value ([agent] worker_nice, default 5)
# BENCH_PROFILE=perf   (tools/bench/profile.sh perf) the agent under perf
#                      record, every thread's CPU and switches, and the
#                      in-process run sampled the same way
# BENCH_WORKERS        tlsupd's workers (default 1); BENCH_INPROC_THREADS the
#                      in-process baseline's threads (default 1)
set -u
M=${TLSUP_MODULES:-$TLSUP_ROOT/build/module/uml-$TLSUP_VERSION-base}
B=$TLSUP_ROOT/build/release
CTL=/sys/kernel/debug/tlsup_testmod/ctl
RESULTS=/sys/kernel/debug/tlsup_testmod/results
OUT=$TLSUP_RUN/bench.jsonl
profile=${BENCH_PROFILE:-full}
# Sockets cannot be bound on a qemu guest's 9p run directory: work on tmpfs.
cd "${TLSUP_WORK:-$TLSUP_RUN}" || exit 1
: >"$OUT"
log() { echo "bench: $*"; }
emit() { echo "$*" >>"$OUT"; }

ulimit -n 1048576
sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
	net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1

# ---- PKI: ECDSA P-256 server certificate, a 32-byte PSK ----
gen() { certtool "$@" >/dev/null 2>&1; }
gen --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile ca.key
printf 'cn = bench CA\nca\ncert_signing_key\nexpiration_days = 2\n' >ca.tmpl
gen --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
gen --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile server.key
printf 'cn = localhost\ndns_name = localhost\ntls_www_server\nexpiration_days = 2\n' >server.tmpl
gen --generate-certificate --load-privkey server.key --load-ca-certificate ca.pem \
	--load-ca-privkey ca.key --template server.tmpl --outfile server.pem
PSK_HEX=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf "$(echo "$PSK_HEX" | sed 's/../\\x&/g')" >psk.bin
RING=$(keyctl newring bench @u)
PSK_KEY=$(keyctl padd user bench-identity "$RING" <psk.bin)
# The consumer's keyring is configured, as a consumer keyring is linked
# (.nvme): the agent holds it from start-up, not per request.

grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null || modprobe tls || exit 10
insmod "$M/tlsup.ko" max_pending=20000 || exit 10
insmod "$M/tools/testmod/tlsup_testmod.ko" || exit 11
cat >tlsupd.conf <<EOF
[authenticate]
keyrings = bench
[authenticate.client]
x509.truststore = $PWD/ca.pem
[agent]
workers = ${BENCH_WORKERS:-1}
acceptor_realtime = ${BENCH_ACCEPTOR_REALTIME:-true}
worker_nice = ${BENCH_WORKER_NICE:-5}
control_socket = $PWD/tlsupd.sock
EOF
if [ "$profile" = callgrind ]; then
	# Instruction counts of the agent alone (tools/bench/profile.sh).
	valgrind --tool=callgrind --callgrind-out-file="$TLSUP_RUN/callgrind.out.%p" \
		"$B/agent/tlsupd" -c tlsupd.conf >agent.log 2>&1 &
elif [ "$profile" = strace ]; then
	# System calls of the agent, every one with its time (when, and how
	# long inside), so that those of the handshakes can be told from
	# start-up's (profile.sh counts them, and sums the time in each kind).
	strace -f -ttt -T -qq -o "$TLSUP_RUN/strace.out" "$B/agent/tlsupd" -c tlsupd.conf >agent.log 2>&1 &
else
	"$B/agent/tlsupd" -c tlsupd.conf >agent.log 2>&1 &
fi
agent=$!
for _ in $(seq 600); do grep -q 'tlsupd running' agent.log && break; sleep 0.05; done
# agent_alive WHEN: the agent still runs, or the run ends here, saying why
# (the report would otherwise get an empty figure from /proc/PID).
agent_alive() {
	# A dead child not yet waited for is a zombie: /proc/PID/status is
	# there, without VmHWM.
	case $(awk '/^State:/ { print $2 }' "/proc/$agent/status" 2>/dev/null) in
	'' | Z | X) ;;
	*) return 0 ;;
	esac
	wait "$agent"
	log "tlsupd is gone $1 (exit status $?); its log:"
	tail -n 20 agent.log | sed 's/^/bench:   /'
	exit 13
}
grep -q 'tlsupd running' agent.log || agent_alive "at start-up"

# USER_HZ ticks of a process's user+system time.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

port=7000
group=0
# full_path AUTH COUNT CONCURRENCY: N handshakes through the whole upcall.
full_path() {
	local auth=$1 count=$2 conc=$3 srv args c0 c1 srvargs
	port=$((port + 1))
	group=$((group + 1))
	if [ "$auth" = psk ]; then
		srvargs=(--psk "bench-identity:$PSK_HEX")
		args="auth=psk peerids=$PSK_KEY keyring=$RING"
	else
		# Server-authenticated x509 (ECDSA P-256): tls_client_hello_anon,
		# the agent verifies the chain and the name; no client certificate.
		srvargs=(--cert server.pem --key server.key)
		args="auth=anon peername=localhost"
	fi
	"$B/tools/bench/bench_server" --port $port --max "$count" "${srvargs[@]}" >server.out 2>&1 &
	srv=$!
	for _ in $(seq 100); do grep -q '^listening' server.out && break; sleep 0.02; done
	c0=$(cpu_ticks "$agent")
	echo "start id=$group role=client port=$port $args timeout=60000 count=$count concurrency=$conc wait_ms=300000" >"$CTL" ||
		{ log "start refused"; return 1; }
	echo "wait id=$group timeout=600000" >"$CTL" || log "group $group did not finish"
	c1=$(cpu_ticks "$agent")
	wait "$srv"
	python3 "$TLSUP_ROOT/tools/bench/group_stats.py" "$RESULTS" "$group" "$auth" "$conc" \
		"$(printf '%d.%02d' $(( (c1 - c0) / 100 )) $(( (c1 - c0) % 100 )))" "$(tail -n 1 server.out)" >>"$OUT"
	echo "reset" >"$CTL"
	tail -n 1 "$OUT"
}

# inproc_creds AUTH: the in-process run's credentials, into `creds`.
inproc_creds() {
	if [ "$1" = psk ]; then
		creds=(--psk "bench-identity:$PSK_HEX")
	else
		creds=(--ca ca.pem --cert server.pem --key server.key)
	fi
}

# inproc TRANSPORT AUTH COUNT CONCURRENCY: the in-process limit, same CPU.
inproc() {
	local tr=$1 auth=$2 count=$3 conc=$4 creds
	inproc_creds "$auth"
	"$B/tools/bench/inproc" --transport "$tr" --count "$count" --concurrency "$conc" \
		--threads "${BENCH_INPROC_THREADS:-1}" "${creds[@]}" >>"$OUT" || log "inproc $tr $auth failed"
	tail -n 1 "$OUT"
}

if [ "$profile" = perf ]; then
	# Where the agent's CPU goes in the guest (tools/bench/profile.sh
	# perf): sampled on the guest's clock, user and kernel alike, with the
	# scheduling counters beside it; reported inside the guest, where its
	# kernel's symbols are.
	perf record -q -e cpu-clock -F 4000 -g -p "$agent" -o "$PWD/perf.data" 2>perf.err &
	rec=$!
	# Every thread of the guest (agent, bench_server, the consumer's
	# kernel threads): CPU and how often each was switched out.
	perf stat -a --per-thread -e task-clock,context-switches,page-faults \
		-o "$PWD/perf-stat.raw" 2>>perf.err &
	st=$!
	sleep 1
	full_path "${BENCH_AUTH:-x509}" "${BENCH_COUNT:-300}" "${BENCH_CONCURRENCY:-16}"
	kill -INT "$rec" "$st"
	wait "$rec" "$st"
	cat perf.err >&2
	# The threads that ran, busiest first, and their voluntary and
	# involuntary switches (status) for the agent's.
	{
		echo "== perf stat -a --per-thread, task-clock (ms) and context switches"
		awk '/task-clock/ { t[$1] = $2 } /context-switches/ { c[$1] = $2 }
			END { for (k in t) { gsub(",", "", t[k]); gsub(",", "", c[k]);
				if (t[k] + 0 > 1) printf "%-28s %10.1f ms %8d switches\n", k, t[k], c[k] } }' \
			"$PWD/perf-stat.raw" | sort -k2 -rn | head -n 30
		echo "== the agent's threads: switches (voluntary, involuntary)"
		for t in /proc/"$agent"/task/*; do
			echo "$(cat "$t/comm") $(awk '/ctxt_switches/ { printf "%s ", $2 }' "$t/status")"
		done
	} >"$TLSUP_RUN/perf-stat.txt"
	perf report -i "$PWD/perf.data" --stdio --no-children --sort comm,dso -g none \
		>"$TLSUP_RUN/perf-dso.txt" 2>&1
	perf report -i "$PWD/perf.data" --stdio --no-children --sort comm,sym -g none \
		>"$TLSUP_RUN/perf-sym.txt" 2>&1
	perf report -i "$PWD/perf.data" --stdio --children --sort sym -g none \
		>"$TLSUP_RUN/perf-incl.txt" 2>&1
	perf report -i "$PWD/perf.data" --stdio --no-children --sort sym -g caller,0.5,callee \
		--percent-limit 2 >"$TLSUP_RUN/perf-callers.txt" 2>&1
	# The in-process client and server, same handshakes, same sampling.
	inproc_creds "${BENCH_AUTH:-x509}"
	perf record -q -e cpu-clock -F 4000 -g -o "$PWD/perf-inproc.data" -- \
		"$B/tools/bench/inproc" --transport mem --count "${BENCH_COUNT:-300}" \
		--concurrency "${BENCH_CONCURRENCY:-16}" --threads 1 "${creds[@]}" \
		>"$TLSUP_RUN/perf-inproc.out" 2>>perf.err
	perf report -i "$PWD/perf-inproc.data" --stdio --no-children --sort comm,dso -g none \
		>>"$TLSUP_RUN/perf-dso.txt" 2>&1
	perf report -i "$PWD/perf-inproc.data" --stdio --no-children --sort sym -g none \
		>"$TLSUP_RUN/perf-inproc-sym.txt" 2>&1
	kill "$agent"
	wait "$agent"
	rmmod tlsup_testmod && rmmod tlsup
	exit 0
fi
if [ "$profile" = callgrind ] || [ "$profile" = strace ]; then
	date +%s.%N >"$TLSUP_RUN/strace.from"
	full_path "${BENCH_AUTH:-x509}" "${BENCH_COUNT:-300}" "${BENCH_CONCURRENCY:-16}"
	date +%s.%N >"$TLSUP_RUN/strace.to"
	# strace would only detach: signal the agent itself. valgrind passes
	# the signal on and writes its profile.
	if [ "$profile" = strace ]; then
		pkill -TERM -x tlsupd
	else
		kill "$agent"
	fi
	wait "$agent"
	rmmod tlsup_testmod && rmmod tlsup
	exit 0
elif [ "$profile" = smoke ]; then
	points=("x509 20 1" "x509 40 16" "psk 20 4")
elif [ "$profile" = ratio ]; then
	points=("x509 100 1" "x509 640 64" "psk 200 1" "psk 1280 64")
else
	points=("x509 100 1" "x509 400 16" "x509 800 64" "x509 1024 256" "x509 2048 1024"
		"psk 100 1" "psk 400 16" "psk 800 64" "psk 1024 256" "psk 2048 1024")
fi
# Warm-up, not reported: the first handshakes pay one-off costs (the
# agent's first trust-list walk, page faults) that would be a c=1 p99.
for auth in x509 psk; do
	full_path "$auth" 10 2 >/dev/null
	sed -i '$d' "$OUT"
done

# Each point BENCH_REPEAT times, the full path and both baselines back to
# back: the machine's speed drifts between runs, the ratios much less.
repeat=${BENCH_REPEAT:-3}
[ "$profile" = smoke ] && repeat=1
for p in "${points[@]}"; do
	read -r auth count conc <<<"$p"
	for r in $(seq "$repeat"); do
		log "point: $auth, $count handshakes, concurrency $conc (run $r of $repeat)"
		full_path "$auth" "$count" "$conc"
		inproc mem "$auth" "$count" "$conc"
		inproc tcp "$auth" "$count" "$conc"
	done
done

# ---- scale: 10,000 requests in flight at once ----
if [ "$profile" = full ]; then
	n=${BENCH_SCALE:-10000}
	log "scale: $n requests in flight"
	port=$((port + 1))
	group=$((group + 1))
	"$B/tools/bench/bench_server" --port $port --max "$n" --cert server.pem --key server.key \
		>server.out 2>&1 &
	srv=$!
	sleep 0.3
	slab0=$(awk '/^Slab:/ {print $2}' /proc/meminfo)
	echo "start id=$group role=client port=$port auth=anon peername=localhost count=$n wait_ms=900000" >"$CTL"
	peak_inflight=0 peak_slab=$slab0
	# Sample the in-flight count and the kernel's slab while they ramp.
	while :; do
		inflight=$(awk '/^inflight:/ {print $2}' /proc/net/tlsup)
		slab=$(awk '/^Slab:/ {print $2}' /proc/meminfo)
		if [ "$inflight" -gt "$peak_inflight" ]; then
			peak_inflight=$inflight
			peak_slab=$slab
		fi
		done_n=$(grep -c "^group=$group idx=.* phase=done" "$RESULTS")
		[ "$done_n" -ge "$n" ] && break
		sleep 1
	done
	echo "wait id=$group timeout=900000" >"$CTL"
	wait "$srv"
	ok=$(grep "^group=$group idx=" "$RESULTS" | grep -c ' status=0 peerid=[-0-9]* calls=1 ')
	elapsed=$(awk -v g="group=$group" '$1 == g && $2 == "summary" {split($5, e, "="); print e[2] / 1e6}' "$RESULTS")
	reqbytes=$(awk '/^request_bytes:/ {print $2}' /proc/net/tlsup)
	emit "{\"scale\":{\"requests\":$n,\"ok\":$ok,\"lost\":$((n - ok)),\"elapsed_s\":$elapsed,\"peak_inflight\":$peak_inflight,\"agent_peak_rss_kib\":$(hwm_kib "$agent"),\"slab_growth_kib\":$((peak_slab - slab0)),\"slab_per_inflight_bytes\":$(( (peak_slab - slab0) * 1024 / (peak_inflight > 0 ? peak_inflight : 1) )),\"request_bytes\":$reqbytes,\"server\":$(tail -n 1 server.out)}}"
	tail -n 1 "$OUT"
	echo "reset" >"$CTL"
fi

agent_alive "after the points"
t=$(cpu_ticks "$agent")
emit "{\"agent\":{\"peak_rss_kib\":$(hwm_kib "$agent"),\"cpu_s\":$(printf '%d.%02d' $((t / 100)) $((t % 100)))}}"
kill "$agent"
wait "$agent"
echo "reset" >"$CTL"
rmmod tlsup_testmod && rmmod tlsup || exit 12
exit 0
