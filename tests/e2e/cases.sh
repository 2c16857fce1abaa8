# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# End-to-end cases (sourced by guest.sh). Each function is one case; the
# CASES list at the end names and orders them.

# ---- authentication modes x roles, data over kTLS ----

case_client_anon_1mib() {
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 \
		send=$MiB recv=$MiB
	peer_stop
	expect status "$(field status)" 0
	expect calls "$(field calls)" 1
	expect "bytes sent over kTLS" "$(field sent)" $MiB
	expect "bytes echoed back, checked byte for byte" "$(field received)" $MiB
	expect "session error" "$(field error)" -
}

case_client_x509_key_serials_mtls() {
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --ca pki/ca.pem \
		--require-client-cert --mode echo
	consumer role=client port=$port auth=x509 peername=localhost timeout=10000 \
		keyring="$RING" cert="$CERT" privkey="$PRIVKEY" send=65536 recv=65536
	peer_stop
	expect status "$(field status)" 0
	expect received "$(field received)" 65536
	# The server saw the certificate from the kernel's key serial.
	echo "$peer_out" | grep -q 'peer_dn=CN=kernel-client' || {
		log "peer did not see CN=kernel-client: $peer_out"
		case_failed=1
	}
	expect_ne "peer id of the verified server" "$(field peerid)" 0
}

case_client_x509_configured_files() {
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --ca pki/ca.pem \
		--require-client-cert --mode echo
	consumer role=client port=$port auth=x509 peername=localhost timeout=10000 \
		send=4096 recv=4096
	peer_stop
	expect status "$(field status)" 0
	echo "$peer_out" | grep -q 'peer_dn=CN=kernel-client' || case_failed=1
}

case_client_psk() {
	next_port
	peer_server --psk "e2e-identity-1:$PSK_HEX" --mode echo
	consumer role=client port=$port auth=psk peerids="$PSK1" keyring="$RING" \
		timeout=10000 send=65536 recv=65536
	peer_stop
	expect status "$(field status)" 0
	expect received "$(field received)" 65536
	echo "$peer_out" | grep -q 'psk_identity=e2e-identity-1' || {
		log "peer: $peer_out"
		case_failed=1
	}
}

case_client_psk_second_identity() {
	# Every identity the kernel offers is considered: the first names no
	# key, so the agent uses the second (GnuTLS puts one in a ClientHello).
	next_port
	peer_server --psk "e2e-identity-2:$PSK2_HEX" --mode echo
	consumer role=client port=$port auth=psk peerids="2147483003,$PSK2" keyring="$RING" \
		timeout=10000 send=1024 recv=1024
	peer_stop
	expect status "$(field status)" 0
	echo "$peer_out" | grep -q 'psk_identity=e2e-identity-2' || case_failed=1
}

case_server_x509_mtls_peerid() {
	next_port
	consumer_start role=server port=$port auth=x509 keyring="$RING" cert="$SCERT" \
		privkey="$SPRIVKEY" timeout=10000 echo=1 recv=$MiB
	peer_client --cert pki/peerclient.pem --key pki/peerclient.key --ca pki/ca.pem \
		--servername localhost --send $MiB --recv $MiB
	peer_wait
	consumer_wait
	expect "peer result" "$(echo "$peer_out" | grep -o 'status=[a-z:A-Z-]*')" status=ok
	expect status "$(field status)" 0
	expect "echoed bytes" "$(field sent)" $MiB
	# A verified client certificate comes back as a key serial, never 0.
	expect_ne "peer id of the verified client" "$(field peerid)" 0
	if [ "$(field peerid)" != 0 ]; then
		keyctl print "$(field peerid)" >/dev/null 2>&1 || keyctl describe "$(field peerid)" >/dev/null 2>&1 ||
			{ log "peer id $(field peerid) is not a readable key"; case_failed=1; }
	fi
}

case_server_x509_no_client_cert() {
	next_port
	consumer_start role=server port=$port auth=x509 timeout=10000 echo=1 recv=4096
	peer_client --ca pki/ca.pem --servername localhost --send 4096 --recv 4096
	peer_wait
	consumer_wait
	expect status "$(field status)" 0
	expect "peer id without a client certificate" "$(field peerid)" 0
}

case_server_psk() {
	next_port
	consumer_start role=server port=$port auth=psk keyring="$RING" timeout=10000 \
		echo=1 recv=65536
	peer_client --psk "e2e-identity-1:$PSK_HEX" --send 65536 --recv 65536
	peer_wait
	consumer_wait
	expect status "$(field status)" 0
	expect "peer id is the PSK's key" "$(field peerid)" "$PSK1"
	expect "peer result" "$(echo "$peer_out" | grep -o 'status=[a-z:A-Z-]*')" status=ok
}

# ---- ciphers, IPv6, data right behind Finished ----

cipher_case() {
	local cipher=$1
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo \
		--priority "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+$cipher"
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 \
		send=262144 recv=262144
	peer_stop
	expect status "$(field status)" 0
	expect received "$(field received)" 262144
	echo "$peer_out" | grep -q "cipher=$cipher" || {
		log "negotiated: $peer_out"
		case_failed=1
	}
}
case_cipher_aes128gcm() { cipher_case AES-128-GCM; }
case_cipher_aes256gcm() { cipher_case AES-256-GCM; }
case_cipher_chacha20() { cipher_case CHACHA20-POLY1305; }
case_cipher_aes128ccm() { cipher_case AES-128-CCM; }

case_client_ipv6() {
	next_port
	peer_server --addr ::1 --cert pki/server.pem --key pki/server.key --mode echo
	consumer role=client addr=::1 port=$port auth=anon peername=localhost timeout=10000 \
		send=65536 recv=65536
	peer_stop
	expect status "$(field status)" 0
	expect received "$(field received)" 65536
}

case_server_ipv6() {
	next_port
	consumer_start role=server addr=::1 port=$port auth=x509 timeout=10000 echo=1 recv=4096
	peer_client --addr ::1 --ca pki/ca.pem --servername localhost --send 4096 --recv 4096
	peer_wait
	consumer_wait
	expect status "$(field status)" 0
}

case_data_behind_server_finished() {
	# The server sends right behind its Finished (before the client's):
	# the agent must leave those records to kTLS.
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --early --mode send --send 8192
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 recv=8192
	peer_stop
	expect status "$(field status)" 0
	expect "bytes that followed Finished, via kTLS" "$(field received)" 8192
	expect error "$(field error)" -
}

case_data_behind_client_finished() {
	next_port
	consumer_start role=server port=$port auth=x509 timeout=10000 recv=8192
	peer_client --ca pki/ca.pem --servername localhost --send 8192
	peer_wait
	consumer_wait
	expect status "$(field status)" 0
	expect "bytes that followed the client's Finished" "$(field received)" 8192
}

case_mtls_peer_ids_many() {
	# Several servers and clients at once, each consumer gets its peer id.
	# The server submits as the clients connect: keep the connections under
	# the pending bound, or a refused submit (-EAGAIN) fails a session.
	local conc
	conc=$(pending_bound 16)
	next_port
	consumer_start role=server port=$port auth=x509 count=8 timeout=10000 echo=1 recv=1024
	peer_client --count 8 --concurrency "$conc" --cert pki/peerclient.pem --key pki/peerclient.key \
		--ca pki/ca.pem --servername localhost --send 1024 --recv 1024
	peer_wait
	consumer_wait
	expect_all 0
	local zero
	zero=$(echo "$out" | grep -c ' peerid=0 ')
	expect "sessions without a peer id" "$zero" 0
}

# ---- every DONE status ----

failure_case() {
	local want=$1 cert=$2
	shift 2
	next_port
	peer_server --cert "pki/$cert.pem" --key "pki/$cert.key" --mode echo
	consumer role=client port=$port auth=x509 timeout=10000 "$@"
	peer_stop
	expect status "$(field status)" "$want"
	expect calls "$(field calls)" 1
}
case_status_expired_cert() { failure_case -13 expired peername=localhost; }
case_status_wrong_host() { failure_case -13 wronghost peername=localhost; }
case_status_untrusted_ca() { failure_case -13 untrusted peername=localhost; }
case_status_revoked() { failure_case -13 revoked peername=localhost; }
case_status_peername_mismatch() { failure_case -13 server peername=nfs.example.org; }
case_status_no_peername_ip_san() {
	# Without a peername the server's IP SAN must match 127.0.0.1.
	failure_case 0 server
}

case_status_missing_key() {
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo
	consumer role=client port=$port auth=x509 peername=localhost timeout=10000 \
		cert=2147483000 privkey=2147483001
	peer_stop
	expect status "$(field status)" -126
}

case_status_missing_psk_key() {
	next_port
	peer_server --psk "e2e-identity-1:$PSK_HEX" --mode echo
	consumer role=client port=$port auth=psk peerids=2147483002 timeout=10000
	peer_stop
	expect status "$(field status)" -126
}

case_status_unknown_psk_identity() {
	# The kernel server does not know the identity the client offers.
	next_port
	consumer_start role=server port=$port auth=psk keyring="$RING" timeout=10000
	peer_client --psk "nobody-knows-me:$PSK_HEX" --send 16
	peer_wait
	consumer_wait
	expect status "$(field status)" -129
}

case_status_wrong_psk_key() {
	next_port
	peer_server --psk "e2e-identity-1:$PSK2_HEX" --mode echo
	consumer role=client port=$port auth=psk peerids="$PSK1" timeout=10000
	peer_stop
	expect status "$(field status)" -13
}

case_status_einval_cert_without_key() {
	# A consumer that names a certificate but no private key asked for
	# something impossible: bad request parameters.
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo --timeout 3
	consumer role=client port=$port auth=x509 peername=localhost timeout=5000 \
		keyring="$RING" cert="$CERT"
	peer_stop
	expect status "$(field status)" -22
	expect calls "$(field calls)" 1
}

case_status_eio_ktls_setup() {
	# The handshake succeeds, but the socket already has the TLS ULP: the
	# agent cannot install kTLS, which is EIO.
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo --timeout 5
	consumer role=client port=$port auth=anon peername=localhost timeout=5000 preset_ulp=1
	peer_stop
	expect status "$(field status)" -5
	expect calls "$(field calls)" 1
	grep -q 'EIO' "$WORK/agent.log" || { log "agent log has no EIO reason"; case_failed=1; }
}

case_status_silent_peer() {
	next_port
	peer_server --mode silent --timeout 8
	consumer role=client port=$port auth=anon peername=localhost timeout=1500
	peer_stop
	expect status "$(field status)" -110
}

case_status_peer_hangs_up() {
	next_port
	peer_server --mode hangup
	consumer role=client port=$port auth=anon peername=localhost timeout=5000
	peer_stop
	expect status "$(field status)" -110
}

# ---- cancel, close, agent failures ----

case_cancel_before_accept() {
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo --timeout 5
	agent_pause || case_failed=1
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 cancel_ms=200
	kill -CONT "$agent_pid"
	peer_stop
	expect "cancel result" "$(field cancel)" 1
	expect calls "$(field calls)" 0
	nap 0.5
	[ -e /proc/net/tlsup ] && expect pending "$(proc_field pending)" 0
}

case_cancel_during_handshake() {
	next_port
	peer_server --mode silent --timeout 6
	consumer role=client port=$port auth=anon peername=localhost timeout=3000 cancel_ms=800
	nap 3
	peer_stop
	expect "cancel result" "$(field cancel)" 1
	expect calls "$(field calls)" 0
}

case_cancel_after_done() {
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 \
		send=16 recv=16 cancel_after_done=1
	peer_stop
	expect status "$(field status)" 0
	expect "cancel after done" "$(field cancel)" 0
	expect calls "$(field calls)" 1
}

case_close_mid_handshake() {
	next_port
	peer_server --mode silent --timeout 8
	consumer role=client port=$port auth=anon peername=localhost timeout=1500 close_ms=300
	peer_stop
	expect closed "$(field closed)" 1
	expect calls "$(field calls)" 1
	expect status "$(field status)" -110
}

case_agent_killed_mid_handshake() {
	next_port
	peer_server --mode silent --timeout 10
	local accepted own_deadlines
	accepted=$(grep -c 'accepted, deadline' "$WORK/agent.log")
	own_deadlines=$(grep -c 'deadline of [0-9]* ms passed' "$WORK/agent.log")
	# The agent's own deadline (timeout after its ACCEPT) must not pass
	# before the SIGKILL reaches it, or its DONE -110 ends the request and
	# the kernel's deadline (timeout + 2 s after submit) is never what is
	# tested. A fixed nap raced it where forks are slow (debug kernel); so
	# did a 1 s timeout (x4) in CI, where the loaded host stalled the debug
	# guest's shell for longer than that between the ACCEPT and the kill.
	consumer_start role=client port=$port auth=anon peername=localhost timeout=2500
	# Killed once it holds the request (its ACCEPT is logged).
	for _ in $(seq $((250 * TIME_SCALE))); do
		[ "$(grep -c 'accepted, deadline' "$WORK/agent.log")" -gt "$accepted" ] && break
		sleep 0.02
	done
	kill -9 "$agent_pid"
	wait "$agent_pid" 2>/dev/null
	agent_pid=
	# Say which clock ended it if the race above was lost after all.
	[ "$(grep -c 'deadline of [0-9]* ms passed' "$WORK/agent.log")" -gt "$own_deadlines" ] &&
		log "the agent's own deadline passed before the SIGKILL (the guest stalled): inconclusive for the kernel deadline"
	consumer_wait
	peer_stop
	# Nobody sends DONE: the kernel deadline (timeout + 2 s) calls back.
	expect status "$(field status)" -110
	expect calls "$(field calls)" 1
	expect "expired by the kernel deadline" "$(proc_field expired)" "$((expired_before + 1))"
	agent_start
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 send=16 recv=16
	peer_stop
	expect "status after restart" "$(field status)" 0
}
expired_before=0
case_agent_killed_setup() { expired_before=$(proc_field expired); case_agent_killed_mid_handshake; }

case_no_agent() {
	agent_stop
	# A peer listens: only the agent is missing.
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo --timeout 3
	consumer role=client port=$port auth=anon peername=localhost timeout=1000
	peer_stop
	expect status "$(field status)" -3
	expect calls "$(field calls)" 0
	agent_start
}

case_unprivileged_refused() {
	local res
	res=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		python3 "$TLSUP_ROOT/tests/e2e/nlprobe.py" accept done 2>&1)
	expect "unprivileged ACCEPT" "$(echo "$res" | grep -o 'accept=[A-Z0-9]*')" accept=EPERM
	expect "unprivileged DONE" "$(echo "$res" | grep -o 'done=[A-Z0-9]*')" done=EPERM
	res=$(python3 "$TLSUP_ROOT/tests/e2e/nlprobe.py" accept 2>&1)
	expect "privileged ACCEPT of an empty queue" "$(echo "$res" | grep -o 'accept=[A-Z0-9]*')" accept=EAGAIN
}

case_netns_agent_serves_own_namespace() {
	ip netns add e2e-ns1
	ip -n e2e-ns1 link set lo up
	# nsenter, not "ip netns exec": that remounts /sys and hides debugfs.
	local ns="nsenter --net=/run/netns/e2e-ns1"
	$ns "$TLSUPD" -c "$WORK/tlsupd.conf" -d -w 1 >"$WORK/agent-ns1.log" 2>&1 &
	local ns_agent=$!
	next_port
	$ns "$TLSPEER" server --port $port --cert pki/server.pem \
		--key pki/server.key --mode echo >"$WORK/peer-ns1.out" 2>&1 &
	local ns_peer=$!
	# Both ready, however loaded the machine: the agent has joined the
	# family (its "running" line), the peer listens.
	for _ in $(seq $((200 * TIME_SCALE))); do
		grep -q 'tlsupd running' "$WORK/agent-ns1.log" 2>/dev/null &&
			grep -q '^listening' "$WORK/peer-ns1.out" 2>/dev/null && break
		sleep 0.05
	done
	group=$((group + 1))
	$ns sh -c "echo 'start id=$group role=client port=$port auth=anon peername=localhost timeout=$((10000 * TIME_SCALE)) send=4096 recv=4096' >$CTL"
	ctl wait "id=$group" timeout=30000
	out=$(grep "^group=$group idx=" "$RESULTS")
	expect "status in the namespace" "$(field status)" 0
	expect received "$(field received)" 4096
	grep -q 'handshake done' "$WORK/agent-ns1.log" || { log "ns1 agent did not do it"; case_failed=1; }
	local ns_done
	ns_done=$(grep -c 'handshake done' "$WORK/agent-ns1.log")
	# A request in the initial namespace is not the ns1 agent's.
	agent_stop
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo --timeout 3
	consumer role=client port=$port auth=anon peername=localhost timeout=2000
	peer_stop
	expect "status without an agent in this namespace" "$(field status)" -3
	expect "handshakes by the ns1 agent" "$(grep -c 'handshake done' "$WORK/agent-ns1.log")" "$ns_done"
	kill "$ns_agent" "$ns_peer" 2>/dev/null
	wait "$ns_agent" "$ns_peer" 2>/dev/null
	ip netns del e2e-ns1
	agent_start
}

case_concurrent_100() {
	local conc
	conc=$(pending_bound 128)
	[ "$conc" -gt 100 ] && conc=100
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo --count 100
	consumer role=client port=$port auth=anon peername=localhost timeout=20000 count=100 \
		concurrency=$conc send=4096 recv=4096 wait_ms=60000
	peer_wait
	expect_all 0
	expect "peer connections ok" "$(echo "$peer_out" | grep -c 'status=ok')" 100
}

case_tlsupctl_status() {
	local st rc
	st=$("$TLSUPCTL" -s "$WORK/tlsupd.sock" status 2>&1)
	echo "$st" | grep -qi 'p99' || { log "tlsupctl status: $st"; case_failed=1; }
	if [ -e /proc/net/tlsup ]; then
		echo "$st" | grep -q 'submitted' || { log "no kernel counters: $st"; case_failed=1; }
	fi
	st=$("$TLSUPCTL" -s "$WORK/tlsupd.sock" status --json 2>&1)
	echo "$st" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["agent"]["running"]; assert d["agent"]["done"]["total"] > 0' ||
		{ log "tlsupctl status --json: $st"; case_failed=1; }
	# Nobody on the socket: LSB "not running", the kernel's side still shown.
	st=$("$TLSUPCTL" -s "$WORK/no-agent.sock" status 2>&1)
	rc=$?
	expect "tlsupctl status without an agent exits" "$rc" 3
	echo "$st" | grep -q '^tlsupd: not running' || { log "agent down: $st"; case_failed=1; }
	if [ -e /proc/net/tlsup ]; then
		echo "$st" | grep -q 'submitted' || { log "agent down, no kernel counters: $st"; case_failed=1; }
	fi
}

# A bad configuration fails the reload visibly; the old one keeps serving.
case_tlsupctl_reload() {
	cp "$WORK/tlsupd.conf" "$WORK/tlsupd.conf.good"
	printf '[agent]\nmax_inflight = lots\n' >>"$WORK/tlsupd.conf"
	"$TLSUPCTL" -s "$WORK/tlsupd.sock" reload >"$WORK/reload.out" 2>&1
	expect "reload of a bad configuration exits" "$?" 1
	grep -q "max_inflight: 'lots' is not a number" "$WORK/reload.out" ||
		{ log "reload: $(cat "$WORK/reload.out")"; case_failed=1; }
	# Still serving, with the configuration it had.
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 send=16 recv=16
	peer_stop
	expect "status with the old configuration" "$(field status)" 0
	cp "$WORK/tlsupd.conf.good" "$WORK/tlsupd.conf"
	"$TLSUPCTL" -s "$WORK/tlsupd.sock" reload >"$WORK/reload.out" 2>&1
	expect "reload of the good configuration exits" "$?" 0
}

# ---- what an attacker on the network tries ----

case_psk_bypass_with_stored_certificate() {
	# A verified client certificate, once stored by the agent, must not
	# double as a server PSK: the attacker computes the name the agent
	# gave it from the public certificate and uses the DER as the key.
	next_port
	consumer_start role=server port=$port auth=x509 keyring="$RING" timeout=10000 \
		echo=1 recv=16
	peer_client --cert pki/peerclient.pem --key pki/peerclient.key --ca pki/ca.pem \
		--servername localhost --send 16 --recv 16
	peer_wait
	consumer_wait
	expect "mTLS status (stores the certificate)" "$(field status)" 0
	expect_ne "peer id of the stored certificate" "$(field peerid)" 0
	local der=$WORK/pki/peerclient.der desc hex
	certtool --certificate-info --infile pki/peerclient.pem --outder --outfile "$der" 2>/dev/null
	desc="tlsupd:x509:sha256:$(sha256sum <"$der" | cut -d' ' -f1)"
	hex=$(od -An -tx1 -v "$der" | tr -d ' \n')
	local lines
	lines=$(wc -l <"$WORK/agent.log")
	next_port
	consumer_start role=server port=$port auth=psk keyring="$RING" timeout=10000 \
		echo=1 recv=16
	peer_client --psk "$desc:$hex" --send 16 --recv 16
	peer_wait
	consumer_wait
	case "$(field status)" in
	-13 | -129) ;;
	*) log "the attacker's PSK handshake gave status $(field status)"; case_failed=1 ;;
	esac
	echo "$peer_out" | grep -q 'status=ok' && { log "the attacker completed: $peer_out"; case_failed=1; }
	tail -n +$((lines + 1)) "$WORK/agent.log" | grep -q "handshake failed: EKEYREJECTED" ||
		{ log "the agent logged no EKEYREJECTED"; case_failed=1; }
}

# psk_server_status KEYRING IDENTITY HEX: a server-PSK consumer with that
# keyring (0: none) against a tlspeer client offering IDENTITY; leaves the
# consumer's line in $out.
psk_server_status() {
	next_port
	consumer_start role=server port=$port auth=psk keyring="$1" timeout=10000 echo=1 recv=16
	peer_client --psk "$2:$3" --send 16 --recv 16
	peer_wait
	consumer_wait
}

case_psk_cross_consumer() {
	# Consumer A's PSK, in A's own keyring, authenticates A's peers and
	# no one else's -- though the kernel links every consumer's keyring
	# into the agent's process keyring, which all workers share.
	psk_server_status "$RING_A" e2e-consumer-a "$PSKA_HEX"
	expect "A's peer with A's PSK" "$(field status)" 0
	expect "A's peer id" "$(field peerid)" "$PSKA"
	psk_server_status "$RING_B" e2e-consumer-a "$PSKA_HEX"
	expect "B's peer with A's PSK" "$(field status)" -129
	psk_server_status 0 e2e-consumer-a "$PSKA_HEX"
	expect "a keyring-less consumer's peer with A's PSK" "$(field status)" -129
	psk_server_status "$RING_A" e2e-consumer-a "$PSKA_HEX"
	expect "A's peer again, after B's" "$(field status)" 0
}

case_psk_type_in_request_keyring() {
	if [ -z "$PSKT" ]; then
		case_skip='this kernel has no "psk" key type (the NVMe keyring, 6.7+)'
		return
	fi
	psk_server_status "$RING_A" e2e-consumer-a-psk "$PSKA_HEX"
	expect "psk-type key in the request's keyring" "$(field status)" 0
	expect "its peer id" "$(field peerid)" "$PSKT"
	psk_server_status "$RING_B" e2e-consumer-a-psk "$PSKA_HEX"
	expect "another consumer's peer" "$(field status)" -129
}

case_broadcast_error_per_kernel() {
	# tlsup.ko keeps a request whose READY overflowed an agent's queue;
	# upstream fails the submit on any multicast error, so the agent sets
	# NETLINK_BROADCAST_ERROR on tlsup.ko only (it reads the socket back).
	local want=on other=off
	[ "$UPSTREAM" = 1 ] && want=off other=on
	grep -q "NETLINK_BROADCAST_ERROR $want" "$WORK/agent.log" ||
		{ log "agent log lacks 'NETLINK_BROADCAST_ERROR $want'"; case_failed=1; }
	if grep -q "NETLINK_BROADCAST_ERROR $other" "$WORK/agent.log"; then
		log "agent said 'NETLINK_BROADCAST_ERROR $other' on this kernel"
		case_failed=1
	fi
}

case_record_size_limit() {
	# RFC 8449: the peer accepts records of at most 1025 bytes. kTLS must
	# be told (TLS_TX_MAX_PAYLOAD_LEN, newer than 6.1 and 6.12); a kernel
	# without it fails the handshake with EIO and the reason, rather than
	# send records the peer refuses.
	local lines
	lines=$(wc -l <"$WORK/agent.log")
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo --record-size-limit 1024
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 \
		send=8192 recv=8192
	peer_stop
	case "$(field status)" in
	0) expect "echoed over small records" "$(field received)" 8192 ;;
	-5)
		tail -n +$((lines + 1)) "$WORK/agent.log" | grep -q 'RFC 8449 record_size_limit.*TLS_TX_MAX_PAYLOAD_LEN' ||
			{ log "EIO without the RFC 8449 reason"; case_failed=1; }
		;;
	*) log "status $(field status)"; case_failed=1 ;;
	esac
}

case_pkcs11_server_key() {
	# x509.private_key as a PKCS#11 URL: the server key lives in a SoftHSM
	# token of the run's own (a private SOFTHSM2_CONF), and the handshake
	# is signed there.
	if ! command -v softhsm2-util >/dev/null || ! command -v p11tool >/dev/null; then
		case_skip="softhsm2 or gnutls-bin not installed"
		return
	fi
	local hsm=$WORK/hsm url
	mkdir -p "$hsm/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$hsm" >"$hsm/softhsm2.conf"
	export SOFTHSM2_CONF=$hsm/softhsm2.conf
	softhsm2-util --init-token --free --label e2e --pin 1234 --so-pin 4321 >/dev/null ||
		{ log "token init failed"; case_failed=1; unset SOFTHSM2_CONF; return; }
	p11tool --write --load-privkey pki/server.key --label srv --id 01 --login --set-pin 1234 \
		'pkcs11:token=e2e' >/dev/null 2>&1 || { log "key import failed"; case_failed=1; }
	url='pkcs11:token=e2e;object=srv;type=private?pin-value=1234'
	sed "s|^x509.private_key = $WORK/pki/server.key\$|x509.private_key = $url|" \
		"$WORK/tlsupd.conf" >"$hsm/tlsupd.conf"
	grep -q "pkcs11:token=e2e" "$hsm/tlsupd.conf" || { log "config not rewritten"; case_failed=1; }
	agent_stop
	"$TLSUPD" -c "$hsm/tlsupd.conf" -d >"$WORK/agent-hsm.log" 2>&1 &
	local hsm_agent=$!
	for _ in $(seq $((100 * TIME_SCALE))); do
		grep -q 'tlsupd running' "$WORK/agent-hsm.log" && break
		sleep 0.05
	done
	next_port
	consumer_start role=server port=$port auth=x509 timeout=10000 echo=1 recv=4096
	peer_client --ca pki/ca.pem --servername localhost --send 4096 --recv 4096
	peer_wait
	consumer_wait
	expect status "$(field status)" 0
	expect "peer result" "$(echo "$peer_out" | grep -o 'status=[a-z:A-Z-]*')" status=ok
	kill "$hsm_agent" 2>/dev/null
	wait "$hsm_agent" 2>/dev/null
	[ "$case_failed" = 0 ] || tail -n 5 "$WORK/agent-hsm.log" | sed 's/^/#   /'
	unset SOFTHSM2_CONF
	agent_start
}

case_mldsa_certificate() {
	# x509.pq.*: an ML-DSA second certificate, where this GnuTLS has ML-DSA.
	if ! certtool --generate-privkey --key-type=mldsa65 --outfile "$WORK/mldsa.key" >/dev/null 2>&1; then
		case_skip="GnuTLS $(certtool --version 2>/dev/null | head -n 1 | grep -o '[0-9.]*$') has no ML-DSA (3.8.10+); the x509.pq choice is host-tested with Ed25519 (agent.IdentityTest.*)"
		return
	fi
	log "this certtool makes ML-DSA keys: the ML-DSA case is not written yet"
	case_failed=1
}

# reloaded_count: how often the agent has re-read renewed certificate files.
reloaded_count() { grep -c 'certificate files changed: credentials reloaded' "$WORK/agent.log"; }
# config_reloads: how often it has re-read its configuration.
config_reloads() { grep -c 'configuration reloaded' "$WORK/agent.log"; }

# wait_count FUNCTION N: until FUNCTION prints more than N (6 s at most).
wait_count() {
	for _ in $(seq $((60 * TIME_SCALE))); do
		[ "$($1)" -gt "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

case_certificate_renewal() {
	# The server certificate is renewed on disk (a new file renamed over
	# the old, as certbot does): the next handshake presents it, with no
	# reload and no signal. inotify sees only changes made through the
	# kernel that holds the files, which UML's hostfs (the guest's view of
	# the host) does not report: the server's pair moves to the guest's
	# own tmpfs first, by a reload, and only then is renewed.
	local t=$WORK/pki d before reloads
	d=$(mktemp -d /tmp/tlsup-renewal.XXXXXX)
	cp "$t/server.pem" "$t/server.key" "$d/"
	cp "$WORK/tlsupd.conf" "$WORK/tlsupd.conf.renewal"
	sed -i "s|^x509.certificate = $t/server.pem|x509.certificate = $d/server.pem|;
		s|^x509.private_key = $t/server.key|x509.private_key = $d/server.key|" "$WORK/tlsupd.conf"
	reloads=$(config_reloads)
	kill -HUP "$agent_pid"
	wait_count config_reloads "$reloads" || { log "no reload"; case_failed=1; }
	printf 'cn = localhost\norganization = renewed\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\nexpiration_days = 30\n' >"$d/renewed.tmpl"
	certtool --generate-certificate --load-privkey "$d/server.key" --load-ca-certificate "$t/ca.pem" \
		--load-ca-privkey "$t/ca.key" --template "$d/renewed.tmpl" --outfile "$d/renewed.pem" 2>/dev/null
	before=$(reloaded_count)
	reloads=$(config_reloads)
	cp "$d/renewed.pem" "$d/server.pem.new" && mv "$d/server.pem.new" "$d/server.pem"
	wait_count reloaded_count "$before"
	expect "credentials re-read after the renewal" "$(( $(reloaded_count) > before ))" 1
	next_port
	consumer_start role=server port=$port auth=x509 timeout=10000 echo=1 recv=16
	peer_client --ca pki/ca.pem --servername localhost --send 16 --recv 16
	peer_wait
	consumer_wait
	expect status "$(field status)" 0
	echo "$peer_out" | grep -q 'peer_dn=.*O=renewed' ||
		{ log "the peer saw the old certificate: $peer_out"; case_failed=1; }
	expect "configuration reloads for the renewal" "$(config_reloads)" "$reloads"
	# The configuration this run started with, for whatever runs next.
	mv "$WORK/tlsupd.conf.renewal" "$WORK/tlsupd.conf"
	kill -HUP "$agent_pid"
	wait_count config_reloads "$reloads" || { log "no reload back"; case_failed=1; }
	rm -rf "$d"
}

# ---- what the log must withstand, and reloads under load ----

case_log_injection() {
	# A PSK identity is the peer's choice: one holding a newline and a
	# journald priority prefix must come out as one escaped line, not as a
	# forged emergency entry.
	local evil lines
	evil=$'e2e-evil\n<0>tlsup-forged-entry\r\033[2J'
	next_port
	consumer_start role=server port=$port auth=psk keyring="$RING" timeout=10000
	peer_client --psk "$evil:$PSK_HEX" --send 16
	peer_wait
	consumer_wait
	expect status "$(field status)" -129
	lines=$(grep -c 'tlsup-forged-entry' "$WORK/agent.log")
	expect "log lines naming the identity" "$(( lines >= 1 ))" 1
	expect "log lines that start with the forged prefix" \
		"$(grep -c '^<0>tlsup-forged-entry' "$WORK/agent.log")" 0
	expect "raw control bytes in those lines" \
		"$(grep 'tlsup-forged-entry' "$WORK/agent.log" | grep -c $'[\r\033]')" 0
	grep 'tlsup-forged-entry' "$WORK/agent.log" | grep -qF 'e2e-evil\x0a<0>tlsup-forged-entry\x0d\x1b[2J' ||
		{ log "no escaped identity: $(grep -F 'e2e-evil' "$WORK/agent.log" | tail -n 3)"; case_failed=1; }
}

agent_inflight() {
	"$TLSUPCTL" -s "$WORK/tlsupd.sock" status --json 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["agent"].get("inflight", -1))' 2>/dev/null
}

case_sigusr1_reload_in_flight() {
	# tlshd's reload signal, sent while a handshake waits on its peer: the
	# configuration is re-read and the handshake still completes.
	local before n
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo --timeout 10
	kill -STOP "$peer_pid" # the kernel still completes the TCP connect
	consumer_start role=client port=$port auth=anon peername=localhost timeout=10000 \
		send=16 recv=16
	for _ in $(seq $((100 * TIME_SCALE))); do
		n=$(agent_inflight)
		[ "${n:-0}" -ge 1 ] && break
		sleep 0.05
	done
	expect "handshakes in flight at the signal" "${n:-0}" 1
	before=$(config_reloads)
	kill -USR1 "$agent_pid"
	wait_count config_reloads "$before"
	expect "reloaded by SIGUSR1" "$(( $(config_reloads) > before ))" 1
	kill -CONT "$peer_pid"
	consumer_wait
	peer_wait
	expect status "$(field status)" 0
	expect received "$(field received)" 16
}

# tlsupd started before tlsup.ko (apt configures it before DKMS has built
# the module): it must wait for the "handshake" family, not exit (systemd's
# restarts would hit the start limit), tell systemd it is ready and waits,
# keep the watchdog fed, and serve once the module is loaded -- woken by
# nlctrl's announcement, not by its 10 s re-ask.
case_agent_waits_for_the_family() {
	# notify_pid is set: family_case_restore kills it, and under guest.sh's
	# set -u an unset one would end the whole suite (no result, no plan).
	local before waiting i notify_pid= dogs
	agent_stop
	if ! rmmod tlsup_testmod || ! rmmod tlsup; then
		log "cannot unload tlsup_testmod and tlsup (tlsup refcnt $(cat /sys/module/tlsup/refcnt 2>/dev/null || echo '?'))"
		[ -e /proc/net/tlsup ] && grep -E '^(pending|inflight|live):|^  ' /proc/net/tlsup | sed 's/^/#   /'
		family_case_restore
		return
	fi
	# SIGTERM while it waits: a clean stop (exit 0).
	local st=0 stopped
	stopped=$(agent_log_count 'stopped while waiting for the handshake family')
	"$TLSUPD" -c "$WORK/tlsupd.conf" -d >>"$WORK/agent.log" 2>&1 &
	agent_pid=$!
	agent_log_wait 'not found: waiting for it' "$(agent_log_count 'not found: waiting for it')" 100
	kill -TERM "$agent_pid"
	wait "$agent_pid" || st=$?
	agent_pid=
	expect "SIGTERM while it waits: exit status" "$st" 0
	expect "... and it says so" \
		"$(agent_log_count 'stopped while waiting for the handshake family')" "$((stopped + 1))"
	before=$(agent_log_count 'tlsupd running')
	waiting=$(agent_log_count 'not found: waiting for it')
	# systemd's side of it: a notification socket that logs each datagram
	# on a line, and a watchdog of 0.4 s (keep-alives every 0.1 s).
	rm -f "$WORK/notify.sock" "$WORK/notify.log"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", "|") + "\n")
        log.flush()
' "$WORK/notify.sock" "$WORK/notify.log" &
	notify_pid=$!
	for ((i = 0; i < 100 * TIME_SCALE; i++)); do
		[ -S "$WORK/notify.sock" ] && break
		tlsup_nap 0.05
	done
	NOTIFY_SOCKET=$WORK/notify.sock WATCHDOG_USEC=400000 \
		"$TLSUPD" -c "$WORK/tlsupd.conf" -d >>"$WORK/agent.log" 2>&1 &
	agent_pid=$!
	agent_log_wait 'not found: waiting for it' "$waiting" 100
	expect "the agent says it waits for the family" \
		"$(agent_log_count 'not found: waiting for it')" "$((waiting + 1))"
	# Still there a moment later (it used to exit at once).
	nap 1
	expect "the agent waits (alive)" "$(kill -0 "$agent_pid" 2>/dev/null && echo yes)" yes
	expect "READY=1 with a status that says it waits" \
		"$(grep -c '^READY=1|STATUS=generic netlink family "handshake" not found: waiting' "$WORK/notify.log")" 1
	# About 10 a second for a second or more (3 or more): not none, and
	# not a loop that spins.
	dogs=$(grep -c '^WATCHDOG=1$' "$WORK/notify.log")
	if [ "$dogs" -lt 3 ] || [ "$dogs" -gt $((60 * TIME_SCALE)) ]; then
		log "keep-alives while it waits: $dogs (0.1 s apart for ${TIME_SCALE} s or more)"
		case_failed=1
	fi
	# SIGHUP (a reload) while it waits: logged, nothing to reload, alive.
	kill -HUP "$agent_pid"
	agent_log_wait 'nothing to reload while waiting' 0 100
	expect "SIGHUP while it waits: logged" \
		"$(agent_log_count 'Hangup: nothing to reload while waiting')" 1
	expect "... and it keeps waiting" "$(kill -0 "$agent_pid" 2>/dev/null && echo yes)" yes
	# Its control socket is not open yet: tlsupctl finds no agent (3).
	st=0
	"$TLSUPCTL" -s "$WORK/tlsupd.sock" status >/dev/null 2>&1 || st=$?
	expect "tlsupctl status while it waits (no agent yet)" "$st" 3
	kill "$notify_pid" 2>/dev/null
	wait "$notify_pid" 2>/dev/null
	if ! insmod "$M/tlsup.ko" || ! insmod "$M/tools/testmod/tlsup_testmod.ko"; then
		log "cannot load tlsup and tlsup_testmod again"
		family_case_restore
		return
	fi
	agent_log_wait 'tlsupd running' "$before" 200
	expect "the agent started once the module was loaded" \
		"$(agent_log_count 'tlsupd running')" "$((before + 1))"
	expect "... woken by the family's announcement" \
		"$(agent_log_count 'family "handshake" registered (announced): starting')" 1
	next_port
	peer_server --cert pki/server.pem --key pki/server.key --mode echo
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 send=16 recv=16
	peer_stop
	expect "status of a handshake through it" "$(field status)" 0
	# The next cases get an agent started as the others are.
	agent_stop
	agent_start || case_failed=1
}
# After a failed step: the modules and an agent back as the suite had them.
family_case_restore() {
	case_failed=1
	[ -z "${notify_pid:-}" ] || kill "$notify_pid" 2>/dev/null
	grep -q '^tlsup ' /proc/modules || insmod "$M/tlsup.ko" || log "cannot load tlsup.ko again"
	grep -q '^tlsup_testmod ' /proc/modules || insmod "$M/tools/testmod/tlsup_testmod.ko" ||
		log "cannot load tlsup_testmod.ko again"
	agent_stop
	agent_start || log "cannot start the agent again"
}

# Functions that need tlsup.ko (skipped on the upstream flavour).
TLSUP_ONLY='^(case_agent_killed_setup|case_agent_waits_for_the_family)$'

CASES=(
	"client anon, 1 MiB both ways|case_client_anon_1mib"
	"client x509 by key serials, mTLS|case_client_x509_key_serials_mtls"
	"client x509 from the configured files|case_client_x509_configured_files"
	"client PSK|case_client_psk"
	"client PSK, first identity unusable, second used|case_client_psk_second_identity"
	"server x509, mTLS, 1 MiB, peer id|case_server_x509_mtls_peerid"
	"server x509, no client certificate|case_server_x509_no_client_cert"
	"server PSK|case_server_psk"
	"cipher AES-128-GCM|case_cipher_aes128gcm"
	"cipher AES-256-GCM|case_cipher_aes256gcm"
	"cipher CHACHA20-POLY1305|case_cipher_chacha20"
	"cipher AES-128-CCM|case_cipher_aes128ccm"
	"client over IPv6|case_client_ipv6"
	"server over IPv6|case_server_ipv6"
	"data right behind the server's Finished|case_data_behind_server_finished"
	"data right behind the client's Finished|case_data_behind_client_finished"
	"8 mTLS servers at once, peer ids|case_mtls_peer_ids_many"
	"EACCES: expired certificate|case_status_expired_cert"
	"EACCES: wrong host|case_status_wrong_host"
	"EACCES: untrusted CA|case_status_untrusted_ca"
	"EACCES: revoked certificate|case_status_revoked"
	"EACCES: peername mismatch|case_status_peername_mismatch"
	"no peername: IP SAN matches|case_status_no_peername_ip_san"
	"ENOKEY: missing certificate key|case_status_missing_key"
	"ENOKEY: missing PSK key|case_status_missing_psk_key"
	"EKEYREJECTED: unknown PSK identity|case_status_unknown_psk_identity"
	"EACCES: wrong PSK key|case_status_wrong_psk_key"
	"EINVAL: certificate without a private key|case_status_einval_cert_without_key"
	"EIO: kTLS set-up fails|case_status_eio_ktls_setup"
	"ETIMEDOUT: silent peer|case_status_silent_peer"
	"ETIMEDOUT: peer hangs up mid-handshake|case_status_peer_hangs_up"
	"cancel before accept|case_cancel_before_accept"
	"cancel during the handshake|case_cancel_during_handshake"
	"cancel after done|case_cancel_after_done"
	"consumer closes its socket mid-handshake|case_close_mid_handshake"
	"agent SIGKILLed mid-handshake, restarted|case_agent_killed_setup"
	"no agent: ESRCH|case_no_agent"
	"agent started before tlsup.ko: waits for the family, then serves|case_agent_waits_for_the_family"
	"unprivileged ACCEPT/DONE refused|case_unprivileged_refused"
	"agent in its own network namespace|case_netns_agent_serves_own_namespace"
	"100 concurrent handshakes|case_concurrent_100"
	"tlsupctl status|case_tlsupctl_status"
	"tlsupctl reload with a bad configuration|case_tlsupctl_reload"
	"attacker: stored peer certificate as a PSK (refused)|case_psk_bypass_with_stored_certificate"
	"one consumer's PSK is not another's|case_psk_cross_consumer"
	"server PSK: psk-type key in the request's keyring|case_psk_type_in_request_keyring"
	"NETLINK_BROADCAST_ERROR on tlsup.ko only|case_broadcast_error_per_kernel"
	"RFC 8449 record size limit: set, or EIO with the reason|case_record_size_limit"
	"server key in a PKCS#11 token (SoftHSM)|case_pkcs11_server_key"
	"ML-DSA x509.pq certificate|case_mldsa_certificate"
	"certificate renewal picked up without a reload|case_certificate_renewal"
	"attacker: a PSK identity that forges a log entry (one escaped line)|case_log_injection"
	"SIGUSR1 reload with a handshake in flight|case_sigusr1_reload_in_flight"
)
