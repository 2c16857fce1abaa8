# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# NFS over TLS: the kernel's NFS client and server (nfsd) on one machine
# over loopback, with Debian's nfs-utils, one tlsupd answering the client's
# ClientHello and the server's ServerHello requests.

# Test names for the guide's site variables (the "site" block).
NFS_SERVER=localhost
NFS_CLIENTS=127.0.0.1
# An unprivileged user writes the test files (root is squashed).
NFS_UID=1000

# The commands of Debian's units, read from the unit files: the guest has
# no systemd. unit_exec UNIT KEY runs every KEY= line of UNIT in order
# ("-" prefix: failure ignored, as systemd does), with the unit's
# Environment= settings; a Type=notify or simple service's ExecStart stays
# in the foreground, so it runs in the background here.
unit_exec() {
	local unit=/lib/systemd/system/$1 line cmd st type env
	[ -f "$unit" ] || { fail "no $unit"; return 1; }
	type=$(sed -n 's/^Type=//p' "$unit")
	env=$(sed -n 's/^Environment=//p' "$unit")
	while IFS= read -r line; do
		cmd=${line#"$2"=}
		local ignore=0
		[ "${cmd:0:1}" = - ] && { ignore=1; cmd=${cmd:1}; }
		log "$1 $2: $cmd"
		if [ "$2" = ExecStart ] && [[ $type =~ ^(notify|simple|exec)$ ]]; then
			(eval "${env:+export $env;} exec $cmd" >>"$WORK/nfs-daemons.log" 2>&1 &)
			continue
		fi
		(eval "${env:+export $env;} $cmd") >>"$WORK/nfs-daemons.log" 2>&1
		st=$?
		[ "$st" = 0 ] || [ "$ignore" = 1 ] || { fail "$1: '$cmd' exited $st"; return 1; }
	done < <(grep "^$2=" "$unit")
}

# The server as nfs-server.service starts it (nfs-mountd.service first),
# then the NFSv4 grace period ended: nothing to reclaim on a new server.
nfs_server_start() {
	pgrep -x rpcbind >/dev/null || unit_exec rpcbind.service ExecStart || return 1
	pgrep -x rpc.mountd >/dev/null || unit_exec nfs-mountd.service ExecStart || return 1
	unit_exec nfs-server.service ExecStartPre || return 1
	unit_exec nfs-server.service ExecStart || return 1
	echo Y >/proc/fs/nfsd/v4_end_grace
}

nfs_server_stop() {
	unit_exec nfs-server.service ExecStop
	unit_exec nfs-server.service ExecStopPost
}

# The handshakes the kernel completed since trace_mark.
nfs_handshakes_ok() { grep -c 'handshake_complete: .*status=0$' "$TRACE/trace"; }
nfs_handshakes_failed() { grep 'handshake_complete: ' "$TRACE/trace" | grep -vc 'status=0$'; }

AS_USER=(setpriv "--reuid=$NFS_UID" "--regid=$NFS_UID" --clear-groups)

# nfs_write_read DIR NAME: writes 1 MiB as the test user over the mount,
# checks the server's copy, drops the client's caches and reads it back.
nfs_write_read() {
	local f=$1/data/$2
	head -c 1048576 /dev/urandom >"$WORK/nfs.$2"
	# The test user cannot read the run directory: root's shell opens it.
	timeout 60 "${AS_USER[@]}" tee "$f" <"$WORK/nfs.$2" >/dev/null || { fail "write $f"; return 1; }
	timeout 60 sync "$f"
	cmp -s "$WORK/nfs.$2" "/srv/nfs/data/$2" || fail "the server's file differs from what was written"
	echo 3 >/proc/sys/vm/drop_caches
	timeout 60 "${AS_USER[@]}" cat "$f" >"$WORK/nfs.$2.back" || fail "read $f"
	cmp -s "$WORK/nfs.$2" "$WORK/nfs.$2.back" || fail "data read back over NFS differs"
}

mount_opt() { findmnt -no OPTIONS "$1" | tr , '\n' | grep "^$2=" | cut -d= -f2; }

tls_stat() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat; }

case_nfs_guide_setup() {
	snippet nfs-pki || return
	certtool --verify --load-ca-certificate /etc/tlsupd/ca/ca.pem \
		--infile /etc/tlsupd/ca/server.pem >/dev/null 2>&1 || fail "server.pem does not verify"
	snippet nfs-tlsupd-conf || return
	grep -q 'OK' "$WORK/snippet.out" || fail "tlsupd -t did not say OK"
	expect "server key mode" "$(stat -c %a /etc/tlsupd/server.key)" 600
	# The agent rereads its configuration (the unit's "restart").
	agent_stop
	agent_start || fail "tlsupd did not restart"
	snippet nfs-export || return
	install -d -o $NFS_UID -g $NFS_UID /srv/nfs/data
	nfs_server_start || return
	expect "nfsd threads" "$(cat /proc/fs/nfsd/threads)" 8
	grep -q 'tcp 2049' /proc/fs/nfsd/portlist || fail "nfsd does not listen on tcp 2049"
}

case_nfs_mount_tls() {
	trace_mark
	local tx0
	tx0=$(tls_stat TlsTxSw)
	snippet nfs-mount-tls || return
	expect "mount's xprtsec" "$(mount_opt /mnt/nfs xprtsec)" tls
	# mount.nfs asks for 4.2 first and falls back; this kernel's client
	# may lack 4.1/4.2 (CONFIG_NFS_V4_1, CONFIG_NFS_V4_2).
	if grep -q '^CONFIG_NFS_V4_2=y' "$TLSUP_KDIR/.config"; then
		expect "NFS version" "$(mount_opt /mnt/nfs vers)" 4.2
	else
		log "this kernel's NFS client has no 4.2: vers=$(mount_opt /mnt/nfs vers)"
	fi
	nfs_write_read /mnt/nfs tls
	expect "successful handshakes (client + server)" "$(nfs_handshakes_ok)" 2
	expect "failed handshakes" "$(nfs_handshakes_failed)" 0
	expect_ge "kTLS TX sockets set up (client + server)" "$(( $(tls_stat TlsTxSw) - tx0 ))" 2
	expect "no kTLS decryption errors" "$(tls_stat TlsDecryptError)" 0
}

case_nfs_mount_mtls() {
	trace_mark
	local tx0
	tx0=$(tls_stat TlsTxSw)
	snippet nfs-mount-mtls || return
	expect "mount's xprtsec" "$(mount_opt /mnt/nfs xprtsec)" mtls
	nfs_write_read /mnt/nfs mtls
	expect "successful handshakes (client + server)" "$(nfs_handshakes_ok)" 2
	expect "failed handshakes" "$(nfs_handshakes_failed)" 0
	expect_ge "kTLS TX sockets set up (client + server)" "$(( $(tls_stat TlsTxSw) - tx0 ))" 2
}

case_nfs_export_policy_mtls_only() {
	# Debian 12's exportfs cannot express it...
	mkdir -p /srv/nfs/mtls-only
	mount -t tmpfs tmpfs /srv/nfs/mtls-only
	install -d -o $NFS_UID -g $NFS_UID /srv/nfs/mtls-only/data
	if exportfs -o rw,fsid=7,xprtsec=mtls "$NFS_CLIENTS:/srv/nfs/mtls-only" >"$WORK/exportfs.out" 2>&1; then
		fail "exportfs accepted xprtsec=: the admin guide's note is out of date"
		exportfs -u "$NFS_CLIENTS:/srv/nfs/mtls-only"
	fi
	log "exportfs: $(head -n 1 "$WORK/exportfs.out")"
	grep -q 'unknown keyword "xprtsec=mtls"' "$WORK/exportfs.out" ||
		fail "exportfs did not refuse xprtsec= as an unknown keyword"
	# ...the kernel can: an export entry with "xprtsec 1 4" (mtls only)
	# and the file handle entry for its fsid, written into the export
	# caches with a far expiry so mountd is never asked about them.
	# The client's domain is what mountd names it, the exports line's
	# client ($NFS_CLIENTS); its auth.unix.ip entry goes in first, so the
	# domain exists whatever mountd's cache holds now.
	local dom=$NFS_CLIENTS
	echo "nfsd 127.0.0.1 2147483647 $dom" >/proc/net/rpc/auth.unix.ip/channel ||
		fail "auth.unix.ip channel refused the entry"
	# flags: root_squash 0x4 | no_subtree_check 0x400 | fsid 0x2000
	echo "$dom /srv/nfs/mtls-only 2147483647 9220 65534 65534 7 xprtsec 1 4" \
		>/proc/net/rpc/nfsd.export/channel || fail "nfsd.export channel refused the entry"
	echo "$dom 1 \\x07000000 2147483647 /srv/nfs/mtls-only" \
		>/proc/net/rpc/nfsd.fh/channel || fail "nfsd.fh channel refused the entry"
	grep -q 'mtls-only.*xprtsec=mtls' /proc/net/rpc/nfsd.export/content ||
		log "export cache: $(grep mtls-only /proc/net/rpc/nfsd.export/content)"
	mkdir -p /mnt/mtls-only /mnt/tls-only /mnt/plain
	# (vers=4: refused mounts do not fall back to NFSv3, which would only
	# be refused later and slower.)
	# No mount of this server may be alive: 6.12's NFSv4 client joins a new
	# mount to an existing client of the same server whatever its xprtsec
	# (nfs4_match_client does not compare it), and the new mount would
	# ride on that client's mTLS connection.
	umount /mnt/nfs 2>/dev/null
	[ -z "$(findmnt -rn -t nfs,nfs4)" ] || fail "NFS mounts left: $(findmnt -rn -t nfs,nfs4)"
	# A TLS client without a certificate, and a plain one, are refused.
	if timeout 60 mount -t nfs -o vers=4,xprtsec=tls "$NFS_SERVER:/mtls-only" /mnt/tls-only \
		2>"$WORK/mount.err"; then
		fail "a tls (no client certificate) mount of the mtls-only export succeeded"
		ls /mnt/tls-only >/dev/null 2>&1 && fail "...and it can read the export"
		umount /mnt/tls-only
	fi
	log "tls mount: $(tail -n 1 "$WORK/mount.err")"
	grep -q 'Operation not permitted' "$WORK/mount.err" || fail "tls mount: not 'Operation not permitted'"
	if timeout 60 mount -t nfs -o vers=4 "$NFS_SERVER:/mtls-only" /mnt/plain 2>"$WORK/mount.err"; then
		fail "a plain mount of the mtls-only export succeeded"
		umount /mnt/plain
	fi
	log "plain mount: $(tail -n 1 "$WORK/mount.err")"
	grep -q 'Operation not permitted' "$WORK/mount.err" || fail "plain mount: not 'Operation not permitted'"
	timeout 60 mount -t nfs -o xprtsec=mtls "$NFS_SERVER:/mtls-only" /mnt/mtls-only ||
		fail "mtls mount of the mtls-only export failed"
	timeout 60 "${AS_USER[@]}" sh -c 'echo mtls > /mnt/mtls-only/data/f' || fail "write over mtls"
	expect "file written over mtls" "$(cat /srv/nfs/mtls-only/data/f 2>/dev/null)" mtls
	umount /mnt/mtls-only
}

# A server certificate from a CA the client does not trust.
rogue_server_cert() {
	local d=$WORK/rogue
	mkdir -p "$d"
	certtool --generate-privkey --key-type=ecdsa --outfile "$d/ca.key" 2>/dev/null
	printf 'cn = "rogue CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$d/ca.tmpl"
	certtool --generate-self-signed --load-privkey "$d/ca.key" --template "$d/ca.tmpl" \
		--outfile "$d/ca.pem" 2>/dev/null
	certtool --generate-privkey --key-type=ecdsa --outfile "$d/server.key" 2>/dev/null
	printf 'cn = "%s"\ndns_name = "%s"\ntls_www_server\nsigning_key\nexpiration_days = 2\n' \
		"$NFS_SERVER" "$NFS_SERVER" >"$d/server.tmpl"
	certtool --generate-certificate --load-privkey "$d/server.key" \
		--load-ca-certificate "$d/ca.pem" --load-ca-privkey "$d/ca.key" \
		--template "$d/server.tmpl" --outfile "$d/server.pem" 2>/dev/null
	sed -e "s|/etc/tlsupd/server.pem|$d/server.pem|" -e "s|/etc/tlsupd/server.key|$d/server.key|" \
		/etc/tlsupd/tlsupd.conf >"$d/tlsupd.conf"
}

case_nfs_wrong_server_cert() {
	umount /mnt/nfs 2>/dev/null
	rogue_server_cert
	agent_stop
	agent_start -c "$WORK/rogue/tlsupd.conf" || { fail "tlsupd with the rogue certificate"; return; }
	trace_mark
	agent_mark
	local t0 secs
	t0=$(date +%s)
	# As the guide mounts (mount.nfs tries every version).
	if timeout 120 mount -t nfs -o xprtsec=tls "$NFS_SERVER:/" /mnt/nfs 2>"$WORK/mount.err"; then
		fail "mount with an untrusted server certificate succeeded"
		umount /mnt/nfs
	fi
	secs=$(( $(date +%s) - t0 ))
	log "mount: $(cat "$WORK/mount.err") after ${secs}s"
	[ "$secs" -lt 120 ] || fail "the mount did not fail in time"
	expect_ge "failed handshakes" "$(nfs_handshakes_failed)" 1
	# (the admin guide quotes these)
	agent_log | grep -F 'peer certificate rejected: The certificate is NOT trusted. The certificate issuer is unknown.' \
		>"$WORK/why" || fail "no logged reason about the certificate"
	log "agent: $(head -n 1 "$WORK/why")"
	grep -q 'access denied by server while mounting' "$WORK/mount.err" ||
		fail "mount.nfs did not say 'access denied by server while mounting'"
	grep -q 'rpc_tls_not_started:' "$TRACE/trace" || fail "no sunrpc:rpc_tls_not_started event"
	agent_stop
	agent_start || fail "tlsupd did not restart with the guide's configuration"
}

case_nfs_server_restart_reconnects() {
	timeout 60 mount -t nfs -o xprtsec=tls "$NFS_SERVER:/" /mnt/nfs || { fail "mount"; return; }
	timeout 60 "${AS_USER[@]}" sh -c 'echo before > /mnt/nfs/data/restart' || fail "write before the restart"
	nfs_server_stop
	trace_mark
	nfs_server_start || return
	# The next I/O finds the connection gone, reconnects, and handshakes.
	timeout 120 "${AS_USER[@]}" sh -c 'echo after >> /mnt/nfs/data/restart' || fail "write after the restart"
	expect "file after the restart" "$(tr '\n' ' ' </srv/nfs/data/restart)" "before after "
	expect_ge "handshakes after the restart (client + server)" "$(nfs_handshakes_ok)" 2
	expect "failed handshakes" "$(nfs_handshakes_failed)" 0
	umount /mnt/nfs
}

nfs_cleanup() {
	local m
	for m in $(findmnt -rn -t nfs,nfs4 -o TARGET); do umount -f -l "$m"; done
	pgrep -x nfsd >/dev/null && nfs_server_stop >/dev/null 2>&1
}

NFS_CASES=(
	"nfs: the admin guide's PKI, agent and export; server started|case_nfs_guide_setup"
	"nfs: mount xprtsec=tls, 1 MiB written and read back over kTLS|case_nfs_mount_tls"
	"nfs: mount xprtsec=mtls, 1 MiB written and read back|case_nfs_mount_mtls"
	"nfs: an mtls-only export (kernel export cache) refuses tls and plain mounts|case_nfs_export_policy_mtls_only"
	"nfs: untrusted server certificate, mount fails with a logged reason|case_nfs_wrong_server_cert"
	"nfs: server restart while mounted, new handshake, I/O goes on|case_nfs_server_restart_reconnects"
)
