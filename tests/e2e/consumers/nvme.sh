# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# NVMe/TCP with TLS 1.3 PSK: the kernel's host (nvme-tcp) and target
# (nvmet-tcp) on one machine over loopback, one tlsupd answering the host's
# ClientHello and the target's ServerHello requests.

NVMET=/sys/kernel/config/nvmet
# Test names for the guide's site variables (the "site" block).
SUBNQN=nqn.2014-08.io.tlsup.e2e:storage1
TARGET_ADDR=127.0.0.1
MiB=1048576

# nvme_connect OPTIONS: writes the connect options to /dev/nvme-fabrics as
# the guide does; $ctrl is the new controller, $connect_err the kernel's
# refusal (the write's error), $connect_secs how long it took.
nvme_connect() {
	local t0 reply
	ctrl='' connect_err=''
	t0=$(date +%s.%N)
	exec 3<>/dev/nvme-fabrics
	if echo "$1" >&3 2>"$WORK/connect.err"; then
		read -r reply <&3
		ctrl=nvme${reply#instance=}
		ctrl=${ctrl%%,*}
	else
		connect_err=$(sed 's/.*: //' "$WORK/connect.err")
	fi
	exec 3>&-
	connect_secs=$(echo "$(date +%s.%N) - $t0" | bc)
	log "connect: ${ctrl:-refused ($connect_err)} after ${connect_secs}s"
}

ctrl_attr() { cat "/sys/class/nvme/$1/$2" 2>/dev/null; }

# The handshakes the kernel completed since trace_mark, by status.
handshakes_ok() { grep -c 'handshake_complete: .*status=0$' "$TRACE/trace"; }
handshakes_failed() { grep 'handshake_complete: ' "$TRACE/trace" | grep -vc 'status=0$'; }

# Every queue of controller $1 completed its handshake: one host and one
# target handshake per queue (admin + I/O), all successful.
expect_queue_handshakes() {
	local queues
	queues=$(ctrl_attr "$1" queue_count)
	expect_ge "queues of $1 (admin + I/O)" "$queues" 2
	expect "successful handshakes (host + target, per queue)" "$(handshakes_ok)" $((2 * queues))
	expect "failed handshakes" "$(handshakes_failed)" 0
}

# psk_serial IDENTITY: the serial of the psk key with that description,
# from /proc/keys (root may view .nvme's keys, not search them: they are
# not root's to possess).
psk_serial() {
	local id flags usage timeout perm uid gid type desc
	while read -r id flags usage timeout perm uid gid type desc; do
		if [ "$type" = psk ] && [ "${desc%: *}" = "$1" ]; then
			echo $((16#$id))
			return 0
		fi
	done </proc/keys
	return 1
}

nvme_psk_serial() { psk_serial "NVMe0R01 $HOSTNQN $SUBNQN"; }

# The controllers that exist now.
controllers() { ls /sys/class/nvme 2>/dev/null | tr '\n' ' '; }

# ---- the guide's set-up, then the checks ----

case_nvme_guide_setup() {
	snippet nvme-hostnqn || return
	expect_match "host NQN" "$HOSTNQN" '^nqn\.2014-08\.org\.nvmexpress:uuid:'
	snippet nvme-psk-generate || return
	expect "PSK file size" "$(stat -c %s /etc/nvme/tls/storage1.psk)" 32
	expect "PSK file mode" "$(stat -c %a /etc/nvme/tls/storage1.psk)" 600
	snippet nvme-psk-load || return
	local serial
	serial=$(nvme_psk_serial)
	expect_match "psk key in .nvme" "$serial" '^[0-9]+$'
	expect "key type" "$(keyctl rdescribe "$serial" | cut -d';' -f1)" psk
	snippet nvme-target || return
	expect "port's security type" "$(cat $NVMET/ports/1/addr_tsas)" tls1.3
	expect "port's TLS requirement" "$(cat $NVMET/ports/1/addr_treq)" required
	# The guide's note: addr_tsas is fixed once the port serves a subsystem.
	if echo none >"$NVMET/ports/1/addr_tsas" 2>/dev/null; then
		fail "addr_tsas changed on an enabled port"
	fi
	expect "port's security type, still" "$(cat $NVMET/ports/1/addr_tsas)" tls1.3
	agent_start || fail "tlsupd did not start"
	trace_mark
	snippet nvme-connect || return
	# shellcheck disable=SC2154 # set by the snippet
	ctrl=nvme${reply#instance=}
	ctrl=${ctrl%%,*}
	expect_match "connect reply" "$reply" '^instance=[0-9]+,cntlid=[0-9]+$'
	snippet nvme-check || return
	expect "controller state" "$(ctrl_attr "$ctrl" state)" live
	# The negotiated key is the one loaded (the kernel prints it in hex).
	expect "negotiated PSK" "$((16#$(ctrl_attr "$ctrl" tls_key)))" "$serial"
	expect_queue_handshakes "$ctrl"
	grep -q "nvme0n1" "$WORK/snippet.out" || fail "nvme list does not show nvme0n1"
	NVME_CTRL=$ctrl
}

# kTLS record counters of /proc/net/tls_stat.
tls_stat() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat; }

case_nvme_block_io() {
	[ -n "${NVME_CTRL:-}" ] || { fail "no controller from the set-up case"; return; }
	local dev=/dev/${NVME_CTRL}n1 tx0 rx0
	[ -b "$dev" ] || { fail "$dev is not a block device"; return; }
	head -c $((4 * MiB)) /dev/urandom >"$WORK/nvme.data"
	tx0=$(tls_stat TlsTxSw) rx0=$(tls_stat TlsRxSw)
	dd if="$WORK/nvme.data" of="$dev" bs=1M oflag=direct status=none || fail "write to $dev"
	dd if="$dev" of="$WORK/nvme.back" bs=1M count=4 iflag=direct status=none || fail "read $dev"
	cmp -s "$WORK/nvme.data" "$WORK/nvme.back" || fail "data read back differs"
	# The target's file holds what the host wrote.
	head -c $((4 * MiB)) /srv/nvme/storage1.img | cmp -s "$WORK/nvme.data" - ||
		fail "the namespace's backing file differs from what was written"
	# The kTLS sockets of this controller's queues are counted in
	# TlsCurr*; the totals of software kTLS sockets ever set up grew.
	log "kTLS: TlsCurrTxSw $(tls_stat TlsCurrTxSw) TlsCurrRxSw $(tls_stat TlsCurrRxSw)"
	expect_ge "kTLS TX sockets open (host + target queues)" "$(tls_stat TlsCurrTxSw)" 4
	expect_ge "kTLS RX sockets open" "$(tls_stat TlsCurrRxSw)" 4
	expect "no kTLS decryption errors" "$(tls_stat TlsDecryptError)" 0
	: "$tx0" "$rx0"
}

case_nvme_disconnect_reconnect() {
	[ -n "${NVME_CTRL:-}" ] || { fail "no controller from the set-up case"; return; }
	nvme disconnect -n "$SUBNQN" >"$WORK/disconnect.out" 2>&1 || fail "nvme disconnect"
	[ -e "/sys/class/nvme/$NVME_CTRL" ] && fail "$NVME_CTRL still exists after disconnect"
	trace_mark
	snippet nvme-connect || return
	ctrl=nvme${reply#instance=}
	ctrl=${ctrl%%,*}
	expect "controller state" "$(ctrl_attr "$ctrl" state)" live
	expect_queue_handshakes "$ctrl"
	NVME_CTRL=$ctrl
	# What was written before the disconnect is still there.
	dd if="/dev/${ctrl}n1" of="$WORK/nvme.back" bs=1M count=4 iflag=direct status=none
	cmp -s "$WORK/nvme.data" "$WORK/nvme.back" || fail "data after reconnect differs"
}

case_nvme_reset_rehandshakes() {
	[ -n "${NVME_CTRL:-}" ] || { fail "no controller from the set-up case"; return; }
	trace_mark
	echo 1 >"/sys/class/nvme/$NVME_CTRL/reset_controller" || fail "reset_controller"
	local _
	for _ in $(seq 100); do
		[ "$(ctrl_attr "$NVME_CTRL" state)" = live ] && break
		sleep 0.1
	done
	expect "state after reset" "$(ctrl_attr "$NVME_CTRL" state)" live
	expect_queue_handshakes "$NVME_CTRL"
}

# A keyring of the host's own, holding KEY under the real identity: the
# host then offers bytes the target does not have.
host_keyring_with() {
	local ring
	ring=$(keyctl newring "e2e-host-$1" @u)
	keyctl padd psk "$2" "$ring" <"$3" >/dev/null
	echo "$ring"
}

# expect_refused WHAT: the last nvme_connect was refused within the
# handshake timeout (10 s), and no controller stayed behind (the ones in
# $before existed already).
expect_refused() {
	if [ -n "$ctrl" ]; then
		fail "$1: connect succeeded ($ctrl)"
		nvme disconnect -d "$ctrl" >/dev/null 2>&1
	fi
	[ -n "$connect_err" ] || fail "$1: no error from the connect"
	[ "$(echo "$connect_secs < 12" | bc)" = 1 ] || fail "$1: refused only after ${connect_secs}s"
	expect "$1: controllers afterwards" "$(controllers)" "$before"
}

case_nvme_wrong_psk_refused() {
	head -c 32 /dev/urandom >"$WORK/wrong.psk"
	local ring
	ring=$(host_keyring_with wrong "NVMe0R01 $HOSTNQN $SUBNQN" "$WORK/wrong.psk")
	nvme disconnect -n "$SUBNQN" >/dev/null 2>&1
	NVME_CTRL=
	trace_mark
	agent_mark
	before=$(controllers)
	nvme_connect "transport=tcp,traddr=$TARGET_ADDR,trsvcid=4420,nqn=$SUBNQN,hostnqn=$HOSTNQN,hostid=$HOSTID,tls,keyring=$ring"
	expect_refused "wrong PSK on the host"
	expect_ge "failed handshakes" "$(handshakes_failed)" 1
	# The target's agent says why: the binder made with the host's key did
	# not verify with the target's.
	# (the admin guide quotes these lines)
	agent_log | grep -E 'PSK binder for key [0-9]+ did not verify \(wrong key\?\)' >"$WORK/why" ||
		fail "no logged reason for the refused PSK"
	log "agent: $(head -n 1 "$WORK/why")"
	dmesg | tail -n 20 | grep -q -E 'nvme nvme[0-9]+: queue 0: TLS handshake complete, error -13$' ||
		fail "the host's kernel log does not report the failed handshake (EACCES)"
	keyctl unlink "$ring" @u >/dev/null
}

case_nvme_unknown_identity_refused() {
	# The host's keyring holds a key for a host NQN the target has no key
	# for: the target's agent cannot find the identity.
	local other ring
	other=nqn.2014-08.org.nvmexpress:uuid:$(cat /proc/sys/kernel/random/uuid)
	mkdir "$NVMET/hosts/$other"
	ln -s "$NVMET/hosts/$other" "$NVMET/subsystems/$SUBNQN/allowed_hosts/"
	ring=$(host_keyring_with unknown "NVMe0R01 $other $SUBNQN" /etc/nvme/tls/storage1.psk)
	trace_mark
	agent_mark
	before=$(controllers)
	nvme_connect "transport=tcp,traddr=$TARGET_ADDR,trsvcid=4420,nqn=$SUBNQN,hostnqn=$other,hostid=$(cat /proc/sys/kernel/random/uuid),tls,keyring=$ring"
	expect_refused "identity unknown to the target"
	agent_log | grep -F "no key for PSK identity 'NVMe0R01 $other $SUBNQN'" >"$WORK/why" ||
		fail "the agent did not log the unknown identity"
	log "agent: $(head -n 1 "$WORK/why")"
	rm "$NVMET/subsystems/$SUBNQN/allowed_hosts/$other"
	rmdir "$NVMET/hosts/$other"
	keyctl unlink "$ring" @u >/dev/null
}

case_nvme_sha384_psk_refused() {
	# A 48-byte key (SHA-384 identity, "02"): GnuTLS 3.7 computes external
	# PSK binders with SHA-256 only, so the agent refuses it clearly.
	head -c 48 /dev/urandom >"$WORK/sha384.psk"
	local ring
	ring=$(host_keyring_with sha384 "NVMe0R02 $HOSTNQN $SUBNQN" "$WORK/sha384.psk")
	keyctl padd psk "NVMe0R02 $HOSTNQN $SUBNQN" %:.nvme <"$WORK/sha384.psk" >/dev/null
	trace_mark
	agent_mark
	before=$(controllers)
	nvme_connect "transport=tcp,traddr=$TARGET_ADDR,trsvcid=4420,nqn=$SUBNQN,hostnqn=$HOSTNQN,hostid=$HOSTID,tls,keyring=$ring"
	if [ -n "$ctrl" ]; then
		# A GnuTLS that computes SHA-384 binders: then it must work.
		log "48-byte PSK accepted: this GnuTLS has SHA-384 binders"
		expect "controller state" "$(ctrl_attr "$ctrl" state)" live
		nvme disconnect -d "$ctrl" >/dev/null
	else
		expect_refused "48-byte PSK"
		agent_log | grep -F 'a 48-byte PSK needs SHA-384 binders' >"$WORK/why" ||
			fail "no logged reason for the 48-byte PSK"
		dmesg | tail -n 20 | grep -q -E 'nvme nvme[0-9]+: queue 0: TLS handshake complete, error -126$' ||
			fail "the host's kernel log does not report ENOKEY"
		log "agent: $(head -n 1 "$WORK/why")"
		expect "the agent's status for it (ENOKEY)" \
			"$(grep -c 'handshake_complete: .*status=-126$' "$TRACE/trace")" 1
	fi
	keyctl unlink "$(psk_serial "NVMe0R02 $HOSTNQN $SUBNQN")" %:.nvme >/dev/null ||
		fail "cannot remove the 48-byte key from .nvme"
	keyctl unlink "$ring" @u >/dev/null
}

case_nvme_no_psk_refused() {
	# A subsystem NQN .nvme has no key for: the host finds none.
	trace_mark
	before=$(controllers)
	nvme_connect "transport=tcp,traddr=$TARGET_ADDR,trsvcid=4420,nqn=$SUBNQN-nokey,hostnqn=$HOSTNQN,hostid=$HOSTID,tls"
	expect_refused "no PSK for the NQNs"
	expect "the write's error" "$connect_err" "Required key not available"
	dmesg | tail -n 5 | grep -q 'no valid PSK found' || fail "no 'no valid PSK found' in the kernel log"
	expect "handshakes requested" "$(grep -c 'handshake_submit:' "$TRACE/trace")" 0
}

case_nvme_hostid_needed() {
	# The guide passes hostid= with hostnqn=: without it the kernel pairs
	# the NQN with its default host's identifier, which belongs to another
	# NQN, and refuses.
	before=$(controllers)
	nvme_connect "transport=tcp,traddr=$TARGET_ADDR,trsvcid=4420,nqn=$SUBNQN,hostnqn=$HOSTNQN,tls"
	expect_refused "host NQN without its host id"
	dmesg | tail -n 5 | grep -q 'found same hostid .* but different hostnqn' ||
		fail "no 'found same hostid ... but different hostnqn' in the kernel log"
}

case_nvme_host_not_allowed() {
	# The subsystem admits only the hosts linked in allowed_hosts: a host
	# with a valid key but not allowed is refused after its handshake.
	local other ring
	other=nqn.2014-08.org.nvmexpress:uuid:$(cat /proc/sys/kernel/random/uuid)
	head -c 32 /dev/urandom >"$WORK/other.psk"
	keyctl padd psk "NVMe0R01 $other $SUBNQN" %:.nvme <"$WORK/other.psk" >/dev/null
	trace_mark
	before=$(controllers)
	nvme_connect "transport=tcp,traddr=$TARGET_ADDR,trsvcid=4420,nqn=$SUBNQN,hostnqn=$other,hostid=$(cat /proc/sys/kernel/random/uuid),tls"
	expect_refused "host not in allowed_hosts"
	expect_ge "successful handshakes (admin queue, both ends)" "$(handshakes_ok)" 2
	dmesg | tail -n 10 | grep -q "nvmet: .*$other.*not allowed\|connect by host $other.*not allowed" ||
		fail "the target did not log the host as not allowed: $(dmesg | tail -n 3 | tr '\n' ' ')"
	keyctl unlink "$(psk_serial "NVMe0R01 $other $SUBNQN")" %:.nvme >/dev/null
}

# A second port without TLS for the same subsystem.
plain_port() {
	[ -d "$NVMET/ports/2" ] && return 0
	mkdir "$NVMET/ports/2"
	echo tcp >"$NVMET/ports/2/addr_trtype"
	echo ipv4 >"$NVMET/ports/2/addr_adrfam"
	echo "$TARGET_ADDR" >"$NVMET/ports/2/addr_traddr"
	echo 4421 >"$NVMET/ports/2/addr_trsvcid"
	ln -s "$NVMET/subsystems/$SUBNQN" "$NVMET/ports/2/subsystems/"
}

case_nvme_target_without_tls_refused() {
	plain_port
	trace_mark
	before=$(controllers)
	nvme_connect "transport=tcp,traddr=$TARGET_ADDR,trsvcid=4421,nqn=$SUBNQN,hostnqn=$HOSTNQN,hostid=$HOSTID,tls"
	expect_refused "TLS host, target port without TLS"
}

case_nvme_host_without_tls_refused() {
	trace_mark
	before=$(controllers)
	nvme_connect "transport=tcp,traddr=$TARGET_ADDR,trsvcid=4420,nqn=$SUBNQN,hostnqn=$HOSTNQN,hostid=$HOSTID"
	expect_refused "host without TLS, port requiring TLS"
}

case_nvme_cli_has_no_tls() {
	# The guide's reason for writing /dev/nvme-fabrics: Debian 12's nvme-cli.
	if nvme connect --help 2>&1 | grep -q -- '--tls'; then
		fail "nvme connect has --tls: the admin guide's note is out of date"
	fi
	expect_match "nvme-cli version" "$(nvme version)" 'nvme version 2\.3'
}

case_troubleshoot_status() {
	# The guide's first troubleshooting step, after the refusals above:
	# each failure is counted under its DONE status.
	snippet troubleshoot-status || return
	local out
	out=$(cat "$WORK/snippet.out")
	expect_match "tlsupctl status: EACCES (wrong PSK)" "$out" 'EACCES +[1-9]'
	expect_match "tlsupctl status: EKEYREJECTED (unknown identity)" "$out" 'EKEYREJECTED +[1-9]'
	expect_match "tlsupctl status: ENOKEY (48-byte PSK)" "$out" 'ENOKEY +[1-9]'
}

nvme_cleanup() {
	nvme disconnect-all >/dev/null 2>&1
}

NVME_CASES=(
	"nvme: the admin guide's set-up, TLS 1.3 PSK on every queue|case_nvme_guide_setup"
	"nvme: block I/O over kTLS, read back and compared|case_nvme_block_io"
	"nvme: disconnect and reconnect|case_nvme_disconnect_reconnect"
	"nvme: controller reset, every queue handshakes again|case_nvme_reset_rehandshakes"
	"nvme: wrong PSK on the host, refused with a reason|case_nvme_wrong_psk_refused"
	"nvme: identity unknown to the target, refused|case_nvme_unknown_identity_refused"
	"nvme: SHA-384 (48-byte) PSK|case_nvme_sha384_psk_refused"
	"nvme: no PSK in .nvme for the NQNs, refused before any handshake|case_nvme_no_psk_refused"
	"nvme: host NQN without its host id, refused|case_nvme_hostid_needed"
	"nvme: a host the subsystem does not allow, refused after its handshake|case_nvme_host_not_allowed"
	"nvme: TLS host, target port without TLS, refused|case_nvme_target_without_tls_refused"
	"nvme: host without TLS, port requiring TLS, refused|case_nvme_host_without_tls_refused"
	"nvme: Debian 12's nvme connect has no --tls|case_nvme_cli_has_no_tls"
	"tlsupctl status counts the refusals by DONE status|case_troubleshoot_status"
)
