#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In the guest (several virtual CPUs): many requests in flight at once, of
# every kind, while the agent and the consumer go away under them.
#
#   round "mixed":   handshakes that succeed and move data, cancels at
#                    spread-out times, kernel deadlines against a silent
#                    peer, consumer closes mid-handshake: all at once
#   round "kill":    the agent is SIGKILLed with every request accepted or
#                    pending, then restarted; the deadline ends the orphans
#   round "unload":  the consumer module is unloaded with all its requests
#                    in flight (its exit cancels each, or waits for the
#                    callback when the cancel loses)
#   then tlsup.ko unloads.
#
# Every request ends exactly once: a session whose hello succeeded has
# either one callback or a cancel that returned true, never both, never
# neither; a refused hello has neither. Nothing stays in /proc/net/tlsup.
# STRESS_N sessions per round (default 64), STRESS_ROUNDS repetitions of
# the three rounds (default 1). Prints TAP.
set -u
M=${TLSUP_MODULES:?}
# shellcheck source=tests/e2e/lib.sh
. "$TLSUP_ROOT/tests/e2e/lib.sh"
cd "$WORK" || exit 1
N=${STRESS_N:-64}
ROUNDS=${STRESS_ROUNDS:-1}

pki() {
	local t=$WORK/pki
	mkdir -p "$t"
	(umask 077 && certtool --generate-privkey --key-type=ecdsa --outfile "$t/ca.key" 2>/dev/null &&
		certtool --generate-privkey --key-type=ecdsa --outfile "$t/server.key" 2>/dev/null)
	printf 'cn = ca\nca\ncert_signing_key\nexpiration_days = 30\n' >"$t/ca.tmpl"
	certtool --generate-self-signed --load-privkey "$t/ca.key" --template "$t/ca.tmpl" \
		--outfile "$t/ca.pem" 2>/dev/null
	printf 'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\nexpiration_days = 30\n' \
		>"$t/server.tmpl"
	certtool --generate-certificate --load-privkey "$t/server.key" --load-ca-certificate "$t/ca.pem" \
		--load-ca-privkey "$t/ca.key" --template "$t/server.tmpl" --outfile "$t/server.pem" 2>/dev/null
	[ -s "$t/server.pem" ]
}

agent_conf() {
	cat >"$WORK/tlsupd.conf" <<EOF
[authenticate.client]
x509.truststore = $WORK/pki/ca.pem

[agent]
workers = $(nproc)
default_timeout_ms = $((10000 * TIME_SCALE))
control_socket = $WORK/tlsupd.sock
EOF
}

# check_exactly_once GROUP...: every session line of the groups obeys the
# rule; prints what ended them; counts go to $ended/$cancelled/$refused.
check_exactly_once() {
	local g bad res
	res=$(cat "$RESULTS")
	for g in "$@"; do
		bad=$(echo "$res" | awk -v g="$g" '
		$0 ~ "^group=" g " idx=" {
			n++
			calls = cancel = -9
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^calls=/) calls = substr($i, 7) + 0
				if ($i ~ /^cancel=/) cancel = substr($i, 8) + 0
			}
			refused = $0 ~ /error=hello refused/
			if (refused) { r++; if (calls != 0 || cancel == 1) { print "refused but ended: " $0; next } }
			else if (calls + (cancel == 1) != 1) { print "ended " calls + (cancel == 1) " times: " $0; next }
			if ($0 !~ /phase=done/) print "not finished: " $0
		}
		END { if (n == 0) print "group " g " has no sessions" }')
		if [ -n "$bad" ]; then
			log "group $g breaks exactly-once:"
			echo "$bad" | head -n 5 | sed 's/^/#   /'
			case_failed=1
		fi
	done
	ended=$(echo "$res" | grep -c ' calls=1 ')
	cancelled=$(echo "$res" | grep -c ' cancel=1 ')
	refused=$(echo "$res" | grep -c 'error=hello refused')
	# "# figure:" lines reach the suite's log (scripts/tap-suite).
	echo "# figure: $(echo "$res" | grep -c ' idx=') sessions, $ended callbacks, $cancelled cancels won, $refused refused"
}

# statuses GROUP: "status:count ..." of a group's sessions.
statuses() {
	grep "^group=$1 idx=" "$RESULTS" | sed 's/.* status=\([-0-9]*\) .*/\1/' | sort | uniq -c |
		awk '{ printf "%s:%s ", $2, $1 }'
}

silent_port=0
echo_port=0
peers_start() {
	next_port
	echo_port=$port
	# Each serves every connection it gets (a thread each) until stopped.
	"$TLSPEER" server --port "$echo_port" --cert pki/server.pem --key pki/server.key --mode echo \
		--count 100000 --timeout 120 >"$WORK/peer-echo.out" 2>&1 &
	echo_pid=$!
	next_port
	silent_port=$port
	"$TLSPEER" server --port "$silent_port" --mode silent --count 100000 --timeout 120 \
		>"$WORK/peer-silent.out" 2>&1 &
	silent_pid=$!
	for _ in $(seq $((100 * TIME_SCALE))); do
		grep -q '^listening' "$WORK/peer-echo.out" 2>/dev/null &&
			grep -q '^listening' "$WORK/peer-silent.out" 2>/dev/null && return 0
		sleep 0.05
	done
	log "peers did not start"
	return 1
}

peers_stop() {
	kill "$echo_pid" "$silent_pid" 2>/dev/null
	wait "$echo_pid" "$silent_pid" 2>/dev/null
}

round_mixed() {
	local q=$((N / 4)) base=$group
	echo $((2 * N)) >"$MAX_PENDING"
	peers_start || { case_failed=1; return; }
	# All four groups at once, each with every session started at once.
	ctl start id=$((base + 1)) port="$echo_port" peername=localhost timeout=20000 \
		count=$((N - 3 * q)) send=4096 recv=4096 wait_ms=120000
	ctl start id=$((base + 2)) port="$echo_port" peername=localhost timeout=20000 \
		count="$q" cancel_ms=$((RANDOM % 400)) send=64 recv=64 wait_ms=120000
	ctl start id=$((base + 3)) port="$silent_port" peername=localhost timeout=1500 \
		count="$q" wait_ms=120000
	ctl start id=$((base + 4)) port="$silent_port" peername=localhost timeout=3000 \
		count="$q" close_ms=$((100 + RANDOM % 300)) wait_ms=120000
	# A second wave of cancels, sent from here while the others run.
	nap 0.$((RANDOM % 9 + 1))
	ctl cancel id=$((base + 2))
	group=$((base + 4))
	local g
	for g in 1 2 3 4; do
		ctl wait id=$((base + g)) timeout=180000
		[ "$ctl_err" = 0 ] || { log "group $((base + g)) did not finish: $ctl_err"; case_failed=1; }
	done
	peers_stop
	check_exactly_once $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4))
	echo "# figure: statuses (status:count) handshakes $(statuses $((base + 1)))cancels $(statuses $((base + 2)))deadlines $(statuses $((base + 3)))closes $(statuses $((base + 4)))"
	# What must have happened for the round to mean something.
	expect "handshakes that moved data" "$(grep -c "^group=$((base + 1)) idx=.* status=0 .*received=4096" "$RESULTS")" $((N - 3 * q))
	expect "deadline statuses" "$(statuses $((base + 3)))" "-110:$q "
	expect "closed sessions" "$(grep -c "^group=$((base + 4)) idx=.* closed=1" "$RESULTS")" "$q"
}

round_kill() {
	local base=$group
	echo $((2 * N)) >"$MAX_PENDING"
	peers_start || { case_failed=1; return; }
	ctl start id=$((base + 1)) port="$silent_port" peername=localhost timeout=1500 \
		count=$((N / 2)) wait_ms=120000
	ctl start id=$((base + 2)) port="$echo_port" peername=localhost timeout=1500 \
		count=$((N / 2)) send=64 recv=64 wait_ms=120000
	group=$((base + 2))
	nap 0.$((RANDOM % 5 + 3))
	kill -9 "$agent_pid"
	wait "$agent_pid" 2>/dev/null
	agent_pid=
	ctl wait id=$((base + 1)) timeout=180000
	ctl wait id=$((base + 2)) timeout=180000
	check_exactly_once $((base + 1)) $((base + 2))
	echo "# figure: after the agent's SIGKILL (status:count) $(statuses $((base + 1)))$(statuses $((base + 2)))"
	# shellcheck disable=SC2119
	agent_start || { case_failed=1; peers_stop; return; }
	# The restarted agent serves again.
	consumer port="$echo_port" peername=localhost timeout=20000 count=8 send=64 recv=64
	expect_all 0
	peers_stop
}

round_unload() {
	echo $((2 * N)) >"$MAX_PENDING"
	peers_start || { case_failed=1; return; }
	consumer_start port="$silent_port" peername=localhost timeout=20000 count=$((N / 2)) wait_ms=120000
	consumer_start port="$echo_port" peername=localhost timeout=20000 count=$((N / 2)) \
		send=4096 recv=4096 wait_ms=120000
	nap 0.$((RANDOM % 5 + 3))
	local inflight
	inflight=$(proc_field inflight)
	echo "# figure: in flight when the consumer goes: $inflight, pending $(proc_field pending)"
	# The silent peer's half cannot have ended (its deadline is 80 s away).
	[ "${inflight:-0}" -ge $((N / 2)) ] ||
		{ log "fewer than $((N / 2)) requests in flight when the consumer went"; case_failed=1; }
	local t0=$SECONDS
	if ! timeout 120 rmmod tlsup_testmod; then
		log "rmmod tlsup_testmod failed or hung"
		case_failed=1
	fi
	echo "# figure: consumer unloaded in $((SECONDS - t0)) s"
	# The cancelled requests' sockets are the agent's alone now. It is
	# restarted, closing them, while the peers are alive; the peers stop
	# after. Peers stopped first race the agent's FINs (it closes each on
	# EOF): a lost one is never sent again, as Linux (6.1.192, 6.12: "tcp:
	# properly terminate timers for kernel sockets") stops a kernel
	# socket's timers in tcp_close, and the orphan stays in LAST_ACK for
	# good, holding its request and tlsup.ko (Documentation/testing.rst,
	# "Orphaned kernel sockets").
	agent_stop
	# shellcheck disable=SC2119
	agent_start || { case_failed=1; }
	local waited
	waited=$(tlsup_wait_gone $((5 * TIME_SCALE)) $((60 * TIME_SCALE))) ||
		log "the cancelled requests outlived the agent's restart"
	[ -z "$waited" ] || printf '%s\n' "${waited//tlsup_wait_gone: /#   }"
	peers_stop
	insmod "$M/tools/testmod/tlsup_testmod.ko" || { log "insmod tlsup_testmod"; case_failed=1; }
}

echo "TAP version 13"
grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null || modprobe tls || { echo "Bail out! modprobe tls"; exit 1; }
insmod "$M/tlsup.ko" || { echo "Bail out! insmod tlsup.ko"; exit 1; }
insmod "$M/tools/testmod/tlsup_testmod.ko" || { echo "Bail out! insmod tlsup_testmod.ko"; exit 1; }
log "stress on $(uname -r), $(nproc) CPUs, $N sessions per round"
pki || { echo "Bail out! test PKI"; exit 1; }
agent_conf
# shellcheck disable=SC2119
agent_start || { echo "Bail out! tlsupd did not start"; exit 1; }
for r in $(seq "$ROUNDS"); do
	run_case "round $r: $N mixed handshakes, cancels, deadlines, closes" round_mixed
	run_case "round $r: agent SIGKILLed under $N requests" round_kill
	run_case "round $r: consumer unloaded under $N requests" round_unload
done
agent_stop
ctl reset
rmmod tlsup_testmod || { echo "not ok $((case_no += 1)) - rmmod tlsup_testmod"; cases_failed=$((cases_failed + 1)); }
# Each live request holds a module reference: wait out TCP closing
# orphaned sockets first (bounded; tests/stress/live_wait.sh).
tlsup_wait_gone $((5 * TIME_SCALE)) $((60 * TIME_SCALE)) | sed 's/^tlsup_wait_gone: /# /'
if rmmod tlsup; then
	echo "ok $((case_no += 1)) - tlsup.ko unloads"
	cases_passed=$((cases_passed + 1))
else
	echo "not ok $((case_no += 1)) - tlsup.ko unloads"
	cases_failed=$((cases_failed + 1))
fi
if [ -e /sys/kernel/debug/kmemleak ]; then
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	sleep 1
	echo scan >/sys/kernel/debug/kmemleak
	if grep -q tlsup /sys/kernel/debug/kmemleak; then
		echo "not ok $((case_no += 1)) - kmemleak: no tlsup object leaked"
		grep -B2 -A12 tlsup /sys/kernel/debug/kmemleak | head -40 | sed 's/^/# /'
		cases_failed=$((cases_failed + 1))
	else
		echo "ok $((case_no += 1)) - kmemleak: no tlsup object leaked"
		cases_passed=$((cases_passed + 1))
	fi
fi
echo "1..$case_no"
echo "# stress: $cases_passed passed, $cases_failed failed"
dmesg >"$WORK/dmesg"
[ "$cases_failed" = 0 ]
