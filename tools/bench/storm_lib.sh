# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Reconnect storms through the kernel's own consumers, inside UML on the
# 6.12 "upstream" kernel (sourced by tools/bench/storm_guest.sh and by the
# e2e smoke case in tests/e2e/consumers). One tlsupd, already running as
# $agent_pid, serves both ends.
#
#   NVMe/TCP: N controllers, each to its own subsystem with its own PSK, on
#   one TLS-only nvmet port over loopback, each with Q I/O queues; then
#   every controller is reset at once (reset_controller: every queue's
#   socket is closed and a new one handshakes), and the time until all are
#   "live" again is measured.
#   NFS: M mounts of the guest's own nfsd, each through its own server
#   address (127.0.0.1..M, so each is its own NFS client and connection),
#   with xprtsec=tls; then all are unmounted and mounted again at once.
#
# Each storm prints one JSON object (storm_emit): what storm_trace.py finds
# in the handshake tracepoints, plus wall time, agent CPU and the
# consumers' own view.

STORM_TRACE=/sys/kernel/tracing
STORM_PORT=4430
STORM_NVMET=/sys/kernel/config/nvmet
STORM_PY=$TLSUP_ROOT/tools/bench/storm_trace.py
STORM_HOSTNQN=nqn.2014-08.io.tlsup.storm:host
STORM_HOSTID=5f0c0d2e-6d2b-4c1a-9a55-0b6f3c4d7e11

storm_log() { echo "# storm: $*"; }
storm_now() { date +%s.%N; }

# The agent's CPU time (user + system, all threads), in seconds.
storm_agent_cpu() {
	local f
	read -ra f <"/proc/$agent_pid/stat"
	# Fields 14 and 15 (utime, stime), after the "(comm)" field; tlsupd's
	# comm has no spaces.
	awk -v u="${f[13]}" -v s="${f[14]}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (u + s) / hz }'
}

# upstream's bound on requests waiting for the agent in this namespace:
# clamp(RAM pages / 102400, 3, 50), RAM as the kernel counts it.
storm_pending_max() {
	local kb pages v
	kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
	pages=$((kb / 4))
	v=$((pages / 102400))
	[ $v -lt 3 ] && v=3
	[ $v -gt 50 ] && v=50
	echo $v
}

# BENCH_TRACE_SCHED=1: the acceptor's wake-ups and switches are traced too,
# and each storm's trace is kept as $TLSUP_RUN/trace-LABEL.txt (for
# tools/bench/storm_gaps.py: what held the acceptor when a submission was
# refused).
storm_trace_start() {
	echo mono >"$STORM_TRACE/trace_clock"
	echo 1 >"$STORM_TRACE/events/handshake/enable"
	if [ "${BENCH_TRACE_SCHED:-}" = 1 ]; then
		echo 'comm == "tlsupd-accept"' >"$STORM_TRACE/events/sched/sched_wakeup/filter"
		echo 1 >"$STORM_TRACE/events/sched/sched_wakeup/enable"
		echo 'prev_comm == "tlsupd-accept" || next_comm == "tlsupd-accept"' \
			>"$STORM_TRACE/events/sched/sched_switch/filter"
		echo 1 >"$STORM_TRACE/events/sched/sched_switch/enable"
	fi
	echo 65536 >"$STORM_TRACE/buffer_size_kb"
	echo >"$STORM_TRACE/trace"
}

# ---- NVMe/TCP ----

# storm_nvme_setup N Q: N subsystems and keys, N controllers connected one
# after the other, each with Q I/O queues (1..3: nvme-tcp gives each kind,
# read/write, write and poll, at most one queue per online CPU, and UML has
# one; 0: the kernel's defaults, one read/write queue per CPU). Sets
# STORM_CTRLS. The host reconnects after a failed attempt once
# BENCH_RECONNECT_DELAY (the kernel's 10 s by default) has passed.
storm_nvme_setup() {
	local n=$1 q=$2 i sub reply
	# (0 is refused for either option: leave them out)
	local queues=reconnect_delay=${BENCH_RECONNECT_DELAY:-10}
	[ "$q" -ge 1 ] && queues+=,nr_io_queues=1
	[ "$q" -ge 2 ] && queues+=,nr_write_queues=1
	[ "$q" -ge 3 ] && queues+=,nr_poll_queues=1
	STORM_CTRLS=()
	local port=$STORM_NVMET/ports/9
	if [ ! -d "$port" ]; then
		mkdir "$port"
		echo tcp >"$port/addr_trtype"
		echo ipv4 >"$port/addr_adrfam"
		echo 127.0.0.1 >"$port/addr_traddr"
		echo $STORM_PORT >"$port/addr_trsvcid"
		echo tls1.3 >"$port/addr_tsas"
		echo required >"$port/addr_treq"
	fi
	for i in $(seq "$n"); do
		sub=nqn.2014-08.io.tlsup.storm:sub$i
		if [ ! -d "$STORM_NVMET/subsystems/$sub" ]; then
			mkdir "$STORM_NVMET/subsystems/$sub"
			echo 1 >"$STORM_NVMET/subsystems/$sub/attr_allow_any_host"
			ln -s "$STORM_NVMET/subsystems/$sub" "$port/subsystems/"
			head -c 32 /dev/urandom |
				keyctl padd psk "NVMe0R01 $STORM_HOSTNQN $sub" %:.nvme >/dev/null || return 1
		fi
		exec 3<>/dev/nvme-fabrics
		if ! echo "transport=tcp,traddr=127.0.0.1,trsvcid=$STORM_PORT,nqn=$sub,hostnqn=$STORM_HOSTNQN,hostid=$STORM_HOSTID,tls,$queues,ctrl_loss_tmo=600" >&3; then
			exec 3>&-
			storm_log "connect $sub failed"
			return 1
		fi
		read -r reply <&3
		exec 3>&-
		reply=nvme${reply#instance=}
		STORM_CTRLS+=("${reply%%,*}")
	done
	storm_log "$n controllers, queue_count $(cat "/sys/class/nvme/${STORM_CTRLS[0]}/queue_count")"
}

storm_nvme_teardown() {
	local c
	for c in "${STORM_CTRLS[@]}"; do
		echo 1 >"/sys/class/nvme/$c/delete_controller" 2>/dev/null
	done
	STORM_CTRLS=()
}

storm_all_live() {
	local c
	for c in "${STORM_CTRLS[@]}"; do
		[ "$(cat "/sys/class/nvme/$c/state" 2>/dev/null)" = live ] || return 1
	done
}

# storm_nvme_reset LABEL: resets every controller at once; emits a JSON line.
storm_nvme_reset() {
	local label=$1 c pids=() t0 t1 cpu0 cpu1 live=false queues follower
	queues=$(cat "/sys/class/nvme/${STORM_CTRLS[0]}/queue_count")
	storm_trace_start
	# The kernel's messages during the storm (the ring buffer may wrap).
	dmesg -W >/run/storm-dmesg 2>/dev/null &
	follower=$!
	storm_agent_hist >/run/storm-acc0
	cpu0=$(storm_agent_cpu)
	t0=$(storm_now)
	for c in "${STORM_CTRLS[@]}"; do
		(echo 1 >"/sys/class/nvme/$c/reset_controller") 2>/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	for _ in $(seq 6000); do
		storm_all_live && { live=true; break; }
		sleep 0.02
	done
	t1=$(storm_now)
	cpu1=$(storm_agent_cpu)
	storm_agent_hist >/run/storm-acc1
	kill "$follower"
	wait "$follower" 2>/dev/null
	# Controller reconnects the host scheduled after a failed attempt.
	local retries
	retries=$(grep -c 'Reconnecting in' /run/storm-dmesg)
	storm_emit "$label" nvme "${#STORM_CTRLS[@]}" "$((queues - 1))" "$((${#STORM_CTRLS[@]} * queues))" \
		"$t0" "$t1" "$cpu0" "$cpu1" "$live" "$retries"
}

# ---- NFS ----

# storm_nfs_pki M DIR: a CA and a server certificate naming 127.0.0.1..M,
# and a tlsupd configuration using them (STORM_NFS_CONF).
storm_nfs_pki() {
	local m=$1 d=$2 i
	mkdir -p "$d"
	certtool --generate-privkey --key-type=ecdsa --outfile "$d/ca.key" 2>/dev/null
	printf 'cn = "storm CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$d/ca.tmpl"
	certtool --generate-self-signed --load-privkey "$d/ca.key" --template "$d/ca.tmpl" \
		--outfile "$d/ca.pem" 2>/dev/null
	certtool --generate-privkey --key-type=ecdsa --outfile "$d/server.key" 2>/dev/null
	{
		printf 'cn = "storm server"\ntls_www_server\nsigning_key\nexpiration_days = 2\n'
		for i in $(seq "$m"); do echo "ip_address = 127.0.0.$i"; done
	} >"$d/server.tmpl"
	certtool --generate-certificate --load-privkey "$d/server.key" --load-ca-certificate "$d/ca.pem" \
		--load-ca-privkey "$d/ca.key" --template "$d/server.tmpl" --outfile "$d/server.pem" 2>/dev/null
	# BENCH_ACCEPTOR_REALTIME=false: the acceptor without SCHED_FIFO, for
	# a storm side by side with the default.
	cat >"$d/tlsupd.conf" <<EOF
[agent]
acceptor_realtime = ${BENCH_ACCEPTOR_REALTIME:-true}

[authenticate.client]
x509.truststore = $d/ca.pem

[authenticate.server]
x509.truststore = $d/ca.pem
x509.certificate = $d/server.pem
x509.private_key = $d/server.key
EOF
	STORM_NFS_CONF=$d/tlsupd.conf
}

# storm_nfs_server: one export for 127.0.0.0/8, the server started as
# Debian's units do (rpcbind, rpc.mountd, exportfs -r, rpc.nfsd), the
# NFSv4 grace period ended (nothing to reclaim).
storm_nfs_server() {
	mkdir -p /srv/storm
	echo "/srv/storm 127.0.0.0/8(rw,sync,no_subtree_check,fsid=0)" >/etc/exports
	if ! pgrep -x rpcbind >/dev/null; then
		rpcbind -f -w >/dev/null 2>&1 &
		sleep 0.2
	fi
	pgrep -x rpc.mountd >/dev/null || rpc.mountd || return 1
	exportfs -r && rpc.nfsd || return 1
	echo Y >/proc/fs/nfsd/v4_end_grace
}

# storm_nfs_mount_all [M]: mounts 127.0.0.I:/ on /mnt/stormI, all at once.
storm_nfs_mount_all() {
	local i pids=() st=0
	STORM_MOUNTS=${1:-$STORM_MOUNTS}
	for i in $(seq "$STORM_MOUNTS"); do
		mkdir -p "/mnt/storm$i"
		timeout 120 mount -t nfs -o xprtsec=tls "127.0.0.$i:/" "/mnt/storm$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || st=1; done
	return $st
}

storm_nfs_mounted() {
	local i
	for i in $(seq "$STORM_MOUNTS"); do
		mountpoint -q "/mnt/storm$i" && timeout 30 stat -f "/mnt/storm$i" >/dev/null || return 1
	done
}

storm_nfs_teardown() {
	local i
	for i in $(seq "${STORM_MOUNTS:-0}"); do umount "/mnt/storm$i" 2>/dev/null; done
	STORM_MOUNTS=0
}

# storm_nfs_remount LABEL: every mount unmounted, then all mounted again at
# once; emits a JSON line.
storm_nfs_remount() {
	local label=$1 i t0 t1 cpu0 cpu1 live=false pids=()
	for i in $(seq "$STORM_MOUNTS"); do
		umount "/mnt/storm$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	storm_trace_start
	storm_agent_hist >/run/storm-acc0
	cpu0=$(storm_agent_cpu)
	t0=$(storm_now)
	storm_nfs_mount_all && storm_nfs_mounted && live=true
	t1=$(storm_now)
	cpu1=$(storm_agent_cpu)
	storm_agent_hist >/run/storm-acc1
	# Each mount: the client's ClientHello and the server's ServerHello.
	storm_emit "$label" nfs "$STORM_MOUNTS" 0 "$STORM_MOUNTS" "$t0" "$t1" "$cpu0" "$cpu1" "$live" 0
}

# storm_emit LABEL KIND UNITS IO_QUEUES CONNECTIONS T0 T1 CPU0 CPU1 LIVE RETRIES
storm_emit() {
	local trace
	trace=$(python3 "$STORM_PY" "$STORM_TRACE/trace")
	if [ "${BENCH_TRACE_SCHED:-}" = 1 ]; then
		cp "$STORM_TRACE/trace" "$TLSUP_RUN/trace-$(echo "$1" | tr -c 'a-zA-Z0-9\n' _).txt"
	fi
	printf '{"label": "%s", "kind": "%s", "units": %s, "io_queues": %s, "connections": %s, "handshakes_expected": %s, "time_to_all_live_s": %s, "all_live": %s, "agent_cpu_s": %s, "consumer_retries": %s, "pending_max": %s, "agent_accept": %s, "trace": %s}\n' \
		"$1" "$2" "$3" "$4" "$5" "$((2 * $5))" "$(storm_diff "$6" "$7")" "${10}" \
		"$(storm_diff "$8" "$9")" "${11}" "$(storm_pending_max)" \
		"$(storm_accept_window /run/storm-acc0 /run/storm-acc1)" "$trace"
}

# storm_agent_hist: the agent's READY-to-ACCEPT-reply histogram as it
# stands (tlsupctl status --raw: "accept_latency_us.le.UPPER COUNT").
# "unavailable" when tlsupctl cannot tell.
storm_agent_hist() {
	local s
	if s=$("$TLSUP_ROOT/build/release/agent/tlsupctl" status --raw 2>/dev/null); then
		echo "$s" | grep '^accept_latency_us\.le\.' || true
	else
		echo unavailable
	fi
}

# storm_accept_window BEFORE AFTER: the ACCEPTs between two readings of
# that histogram -- one storm's, without the set-up before it -- as JSON:
# how many, and p50/p99 the agent's way (the upper bound of the bucket
# that holds the rank).
storm_accept_window() {
	python3 "$TLSUP_ROOT/tools/bench/accept_window.py" "$1" "$2"
}

# storm_agent_accept_latency LABEL: the agent's own READY-to-ACCEPT-reply
# percentiles over the storms since it started (tlsupctl status), as a JSON
# line; then the agent starts afresh for the next point.
storm_agent_accept_latency() {
	local s p50 p99
	s=$("$TLSUP_ROOT/build/release/agent/tlsupctl" status --raw 2>/dev/null)
	p50=$(echo "$s" | awk '$1 == "accept_latency_us.p50" { print $2 }')
	p99=$(echo "$s" | awk '$1 == "accept_latency_us.p99" { print $2 }')
	printf '{"agent_accept_latency": {"label": "%s", "p50_us": %s, "p99_us": %s}}\n' \
		"$1" "${p50:-null}" "${p99:-null}"
	kill "$agent_pid"
	wait "$agent_pid" 2>/dev/null
	agent_start "${agent_args[@]}" >/dev/null || return 1
}

storm_diff() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
