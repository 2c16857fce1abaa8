#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The systemd test, inside the guest (Debian's stock 6.12 under qemu,
# tools/vm/boot.sh), run by tlsup-test.service on a
# Debian 12 root where systemd is PID 1 (tests/systemd/run boots it twice).
#
#   guest.sh install   first boot: install the packages as the README says,
#                      then readiness, handshakes, reload, the journal, the
#                      sandbox, the watchdog, Conflicts=, and a clean stop
#   guest.sh boot      second boot: the unit the packages enabled started at
#                      boot, in order, and the boot has no failed unit
#
# TAP goes to $T/output-PHASE and the console. The last console line is
# TLSUP-EXIT-STATUS=N; then the guest powers off through systemd (whose
# systemd-shutdown ends with reboot(RB_POWER_OFF), which ends qemu).
set -u
T=/root/tlsup-test
# It rewrites /etc and installs packages: only ever in the guest, booted
# from the test's root tree with systemd as PID 1.
if ! grep -qw 'TLSUP_ROOTFS=1' /proc/cmdline || [ ! -f /.tlsup-rootfs-done ] ||
	[ "$(cat /proc/1/comm)" != systemd ]; then
	echo "guest.sh: not in the systemd test guest; refusing" >&2
	exit 2
fi
phase=${1:?install or boot}
# Scratch files and sockets on tmpfs (the root tree is a 9p share).
export TLSUP_RUN=$T/work TLSUP_ROOT=$T TLSUP_WORK=/run/tlsup-work
mkdir -p "$TLSUP_RUN" "$TLSUP_WORK"
exec > >(tee "$T/output-$phase") 2>&1
# shellcheck source=tests/e2e/lib.sh
. "$T/lib.sh"
TLSPEER=$T/tlspeer
cd "$WORK" || exit 1
ln -sfn "$T/pki" "$WORK/pki"
n=0 failed=0
conf=/etc/tlsupd/tlsupd.conf

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() {
	local what=$1
	shift
	# Fails when the check does, so that "check ... || diagnostics" prints
	# them (it returned 0 either way, and no diagnostics ever printed).
	if "$@"; then ok "$what"; else not_ok "$what"; return 1; fi
}
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi
}
prop() { systemctl show -p "$2" --value "$1"; }
journal_tail() { journalctl -u tlsupd --no-pager -n "${1:-15}" -o short-monotonic | sed 's/^/#   /'; }
# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 5; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}
active() { [ "$(prop tlsupd.service ActiveState)" = active ]; }
# The agent's pid while the unit is active, else 0.
agent_pid() {
	if active; then prop tlsupd.service MainPID; else echo 0; fi
}
# reload_ok WHAT / reload_fails WHAT: `systemctl reload` with the
# configuration now in place; either way the same process must be serving,
# active, afterwards.
reload_ok() {
	local pid st
	pid=$(agent_pid)
	systemctl reload tlsupd.service 2>"$WORK/reload.err"
	st=$?
	if [ "$pid" != 0 ] && [ "$st" = 0 ] && [ "$(agent_pid)" = "$pid" ]; then
		ok "$1"
	else
		not_ok "$1 (reload exit $st, pid $pid -> $(agent_pid))"
	fi
}
reload_fails() {
	local pid st
	pid=$(agent_pid)
	systemctl reload tlsupd.service 2>"$WORK/reload.err"
	st=$?
	if [ "$pid" != 0 ] && [ "$st" != 0 ] && [ "$(agent_pid)" = "$pid" ]; then
		ok "$1: reload fails (exit $st), the agent keeps running"
	else
		not_ok "$1: reload fails, the agent keeps running (reload exit $st, pid $pid -> $(agent_pid))"
	fi
}
inactive() { [ "$(prop "${1:-tlsupd.service}" ActiveState)" = inactive ]; }

# handshake WHAT [CERT]: the test consumer's TLS client through tlsupd to a
# GnuTLS server presenting CERT (default: the CA's "server"), 4 KiB echoed
# over kTLS. Leaves the consumer's status in $hs_status.
handshake() {
	local what=$1 cert=${2:-server}
	now_us
	case_start=$NOW_US
	next_port
	peer_server --cert "pki/$cert.pem" --key "pki/$cert.key" --mode echo || {
		not_ok "$what: peer did not start"
		return
	}
	consumer role=client port=$port auth=anon peername=localhost timeout=10000 send=4096 recv=4096
	peer_stop
	hs_status=$(field status)
	if [ "$cert" = server ]; then
		if [ "$hs_status" = 0 ] && [ "$(field received)" = 4096 ]; then
			ok "$what"
		else
			not_ok "$what (consumer: ${out:-none})"
			journal_tail 8
		fi
	fi
}

# The agent's configuration: the test CA for the servers the consumer
# talks to; a client certificate (loaded at every reload); the test hook
# for the watchdog case.
good_conf() {
	cat >"$conf" <<EOF
[authenticate.client]
x509.truststore = /etc/tlsupd/ca.pem
x509.certificate = /etc/tlsupd/client.pem
x509.private_key = /etc/tlsupd/client.key

[agent]
workers = 2
test_hooks = true
EOF
}

finish() {
	echo "1..$n"
	echo "# systemd[$phase]: $((n - failed)) passed, $failed failed"
	if [ "$failed" != 0 ]; then
		echo "# journal of tlsupd.service:"
		journal_tail 40
		echo "# failed units:"
		systemctl list-units --failed --no-legend --plain | sed 's/^/#   /'
	fi
	sync
	echo "TLSUP-EXIT-STATUS=$([ "$failed" = 0 ] && echo 0 || echo 1)" >/dev/console
	systemctl poweroff --no-block
	exit 0
}

phase_install() {
	echo "TAP version 13"
	# Stand-ins for ktls-utils' agent and for the units tlsupd must start
	# before; tlshd runs when the package is installed.
	printf '[Unit]\nDescription=stand-in for tlshd\n[Service]\nExecStart=/bin/sleep infinity\n' \
		>/etc/systemd/system/tlshd.service
	local u
	for u in nfs-server nvmf-autoconnect; do
		printf '[Unit]\nDescription=stand-in for %s\n[Service]\nType=oneshot\nExecStart=/bin/true\n' \
			"$u" >"/etc/systemd/system/$u.service"
	done
	systemctl daemon-reload
	systemctl start tlshd.service

	# ---- install, as the README says ----
	local start st
	start=$(date +%s)
	cd "$T/debs" || exit 1
	# With the kernel's headers installed (SYSTEMD_HEADERS=1, make stress):
	# DKMS could build for this kernel, and tlsup-dkms must decline it.
	DEBIAN_FRONTEND=noninteractive apt install -y ./tlsup-dkms_*_all.deb \
		./tlsupd_*_amd64.deb >"$WORK/apt.log" 2>&1
	st=$?
	cd "$WORK" || exit 1
	check "apt install ./tlsup-dkms_*.deb ./tlsupd_*.deb ($(( $(date +%s) - start ))s)" \
		test "$st" = 0 || sed 's/^/#   /' "$WORK/apt.log" | tail -n 20
	for p in tlsupd tlsup-dkms; do
		is "$p installed" "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" "install ok installed"
	done
	check "DKMS has the module's sources" bash -c 'dkms status tlsup 2>/dev/null | grep -q "^tlsup/"'
	# This kernel has the service: tlsup-dkms installs without building.
	check "no tlsup.ko for $(uname -r) (the kernel's own service)" \
		test ! -e "/usr/lib/modules/$(uname -r)/updates/dkms/tlsup.ko"
	if [ -e "$T/headers" ]; then
		check "headers installed: /lib/modules/$(uname -r)/build/.config" \
			test -e "/lib/modules/$(uname -r)/build/.config"
		# DKMS says why it does not build (dkms.conf's BUILD_EXCLUSIVE_CONFIG).
		check "DKMS declined the kernel, saying why" grep -q 'BUILD_EXCLUSIVE' "$WORK/apt.log" ||
			grep -i -A3 'dkms\|tlsup' "$WORK/apt.log" | sed 's/^/#   /' | tail -n 20
		# dkms build exits 77 ("Error! ... does not match this kernel/arch/config.
		# This indicates that it should not be built."), the postinst says
		# "Skipped." and goes on.
		check "the package's postinst skipped the kernel" grep -Eq '^Skipped\.\s*$' "$WORK/apt.log" ||
			grep -n -i -B2 -A4 'building\|skipped\|dkms\|exclusive' "$WORK/apt.log" | sed 's/^/#   /' | tail -n 30
		local st_line
		st_line=$(dkms status -k "$(uname -r)" tlsup 2>&1)
		check "dkms status: not installed for $(uname -r) ('$st_line')" \
			bash -c "! grep -q installed <<<'$st_line'"
	fi
	is "tlsupd.service enabled by the package" "$(systemctl is-enabled tlsupd.service)" enabled
	# On a merged-/usr root systemd names it by /lib, the same directory.
	check "unit file from /usr/lib/systemd/system ($(dpkg -S /usr/lib/systemd/system/tlsupd.service 2>&1))" \
		test "$(prop tlsupd.service FragmentPath)" -ef /usr/lib/systemd/system/tlsupd.service -a \
		"$(dpkg -S /usr/lib/systemd/system/tlsupd.service 2>/dev/null)" = \
		"tlsupd: /usr/lib/systemd/system/tlsupd.service"
	is "started by the package: ActiveState" "$(prop tlsupd.service ActiveState)" active
	is "... which stopped tlshd.service (Conflicts=)" "$(prop tlshd.service ActiveState)" inactive
	is "Type" "$(prop tlsupd.service Type)" notify
	# Active means READY=1 came (Type=notify); STATUS= says what the agent
	# is doing.
	local status_text
	status_text=$(prop tlsupd.service StatusText)
	check "StatusText set by the agent ('$status_text')" test -n "$status_text"
	check "watchdog armed (WatchdogUSec=$(prop tlsupd.service WatchdogUSec))" \
		test "$(prop tlsupd.service WatchdogUSec)" != 0 -a "$(prop tlsupd.service WatchdogUSec)" != infinity

	# ---- the agent's material, owned by root as the unit needs ----
	install -m 0644 "$T/pki/ca.pem" /etc/tlsupd/ca.pem
	install -m 0644 "$T/pki/client.pem" /etc/tlsupd/client.pem
	install -m 0600 -o root -g root "$T/pki/client.key" /etc/tlsupd/client.key
	good_conf
	insmod "$T/tlsup_testmod.ko" || { not_ok "insmod tlsup_testmod.ko"; finish; }

	local pid
	reload_ok "systemctl reload with the test configuration"
	handshake "handshake through the packaged service"

	# Ready means ready: a request right after `systemctl restart` returns
	# finds the agent listening (Type=notify: restart waits for READY=1).
	systemctl restart tlsupd.service
	handshake "handshake right after systemctl restart returned"

	# ---- reload with a bad configuration fails; the old one keeps serving ----
	pid=$(agent_pid)
	cp "$conf" "$WORK/good.conf"
	printf '[authenticate.client\nx509.truststore = /etc/tlsupd/ca.pem\n' >"$conf"
	reload_fails "a configuration that does not parse"
	sed 's/^#   //; s/^/#   /' "$WORK/reload.err" | head -n 3
	handshake "... and the old configuration keeps serving"
	# Key files: root without CAP_DAC_OVERRIDE cannot read another user's
	# 0600 file; a trust store under /root is hidden by ProtectHome=tmpfs.
	cp "$WORK/good.conf" "$conf"
	chown nobody:nogroup /etc/tlsupd/client.key
	local mark
	mark=$(date '+%Y-%m-%d %H:%M:%S')
	reload_fails "a private key owned by nobody, mode 0600"
	check "... the journal names the file" bash -c \
		"journalctl -u tlsupd.service --since '$mark' --no-pager | grep -q /etc/tlsupd/client.key"
	chown root:root /etc/tlsupd/client.key
	reload_ok "... owned by root again: reload succeeds"
	sed "s|/etc/tlsupd/ca.pem|$T/pki/ca.pem|" "$WORK/good.conf" >"$conf"
	reload_fails "a trust store under /root (ProtectHome=tmpfs)"
	cp "$WORK/good.conf" "$conf"
	reload_ok "... back in /etc/tlsupd: reload succeeds"
	is "no restart through all of it" "$(prop tlsupd.service NRestarts)/$(agent_pid)" "0/$pid"

	# ---- who failed and why: journald fields ----
	handshake "failed handshake (untrusted server)" untrusted
	is "... the consumer gets EACCES" "$hs_status" -13
	local entries
	entries=$(journalctl -u tlsupd.service TLSUP_STATUS=EACCES -o json --no-pager 2>/dev/null | grep -c .)
	check "journalctl -u tlsupd TLSUP_STATUS=EACCES finds it ($entries entries)" test "$entries" -ge 1
	local f json
	json=$(journalctl -u tlsupd.service TLSUP_STATUS=EACCES -o json --no-pager 2>/dev/null)
	for f in TLSUP_REQUEST TLSUP_PEER TLSUP_AUTH; do
		check "... with $f" grep -q "\"$f\"" <<<"$json"
	done

	# ---- the sandbox, as the kernel sees it ----
	pid=$(prop tlsupd.service MainPID)
	is "capability bounding set: CAP_NET_ADMIN only" \
		"$(awk '/^CapBnd:/ {print $2}' "/proc/$pid/status")" 0000000000001000
	is "no new privileges" "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status")" 1
	is "seccomp filter" "$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status")" 2
	if [ "$pid" -gt 0 ] && nsenter -t "$pid" -m true; then
		check "in its mount namespace, /etc is read-only" bash -c \
			"nsenter -t $pid -m touch /etc/tlsupd/.w 2>&1 | grep -q 'Read-only file system'"
		check "... /run/tlsupd is writable" nsenter -t "$pid" -m touch /run/tlsupd/.w
		check "... /root is an empty tmpfs" test -z "$(nsenter -t "$pid" -m ls -A /root)" -a -n "$(ls -A /root)"
	else
		not_ok "the agent's mount namespace (pid $pid)"
	fi
	local exposure
	exposure=$(systemd-analyze security tlsupd.service 2>/dev/null |
		sed -n 's/.*Overall exposure level for tlsupd.service: \([0-9.]*\).*/\1/p')
	check "systemd-analyze security tlsupd.service: exposure ${exposure:-?} <= 2.5" \
		awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.5) }'
	check "tlsupctl status (running): exit 0" bash -c 'tlsupctl status >"$0" 2>&1' "$WORK/status.out"

	# ---- scheduling: the acceptor alone is SCHED_FIFO 1 (LimitRTPRIO=1) ----
	# policy: field 41 of stat, the 39th after "pid (comm) "; rt_priority 40.
	local t comm policy acceptor=none others=0 others_rt=""
	for t in /proc/"$pid"/task/*; do
		comm=$(<"$t/comm")
		policy=$(sed 's/^.*) //' "$t/stat" | awk '{ print $39 "/" $38 }')
		if [ "$comm" = tlsupd-accept ]; then
			acceptor=$policy
		else
			others=$((others + 1))
			[ "$policy" = 0/0 ] || others_rt="$others_rt $comm:$policy"
		fi
	done
	is "the acceptor runs SCHED_FIFO at priority 1 (policy/priority)" "$acceptor" 1/1
	is "... no other of the agent's $others threads is real-time" "${others_rt:-none}" none
	# LimitRTPRIO=1 let the acceptor in; it then closed the door behind it.
	is "RLIMIT_RTPRIO 0/0 once the acceptor is real-time (no other thread can be)" \
		"$(awk '/^Max realtime priority/ { print $4 "/" $5 }' "/proc/$pid/limits")" 0/0
	check "tlsupctl status: 'acceptor: real-time'" grep -q '^acceptor: real-time' "$WORK/status.out"

	# ---- a stalled worker loop: the watchdog restarts the agent ----
	local restarts stalled=0 since_mono
	pid=$(agent_pid)
	restarts=$(prop tlsupd.service NRestarts)
	since_mono=$(date '+%Y-%m-%d %H:%M:%S')
	start=$(date +%s)
	tlsupctl test-stall-worker 0 120000 >"$WORK/stall.out" 2>&1 && stalled=1
	is "tlsupctl test-stall-worker 0 120000 (agent $pid)" "$stalled" 1
	if [ "$stalled" = 1 ] &&
		wait_for 60 bash -c '[ "$(systemctl show -p NRestarts --value tlsupd.service)" -gt '"$restarts"' ]' &&
		journalctl -u tlsupd.service --since "$since_mono" --no-pager | grep -q 'Watchdog timeout'; then
		ok "watchdog: 'Watchdog timeout', restarted after $(( $(date +%s) - start ))s (NRestarts $restarts -> $(prop tlsupd.service NRestarts))"
	else
		not_ok "watchdog: 'Watchdog timeout' and a restart (NRestarts $restarts -> $(prop tlsupd.service NRestarts))"
	fi
	wait_for 30 active
	check "... a new process, ready again" test "$(agent_pid)" != 0 -a "$(agent_pid)" != "$pid"
	handshake "handshake after the watchdog restart"

	# ---- stopped: tlsupctl says so; Conflicts=tlshd.service ----
	systemctl stop tlsupd.service
	tlsupctl status >/dev/null 2>&1
	is "tlsupctl status with the agent stopped: exit 3" "$?" 3
	systemctl start tlsupd.service
	systemctl start tlshd.service
	check "starting tlshd.service stops tlsupd.service" wait_for 10 inactive tlsupd.service
	systemctl start tlsupd.service
	check "starting tlsupd.service stops tlshd.service" wait_for 10 inactive tlshd.service
	# Wanted by and ordered before the NFS server and NVMe-oF autoconnect.
	local t_agent t_unit
	for u in nfs-server nvmf-autoconnect; do
		systemctl stop tlsupd.service
		systemctl start "$u.service"
		t_agent=$(prop tlsupd.service ActiveEnterTimestampMonotonic)
		t_unit=$(prop "$u.service" ExecMainStartTimestampMonotonic)
		check "starting $u.service starts tlsupd.service first ($t_agent < $t_unit us)" \
			test "$(prop tlsupd.service ActiveState)" = active -a "$t_agent" -gt 0 -a "$t_agent" -lt "$t_unit"
	done
	rm /etc/systemd/system/tlshd.service /etc/systemd/system/nfs-server.service \
		/etc/systemd/system/nvmf-autoconnect.service
	systemctl daemon-reload
	is "tlsupd active for the next boot's test" "$(prop tlsupd.service ActiveState)" active
	finish
}

# Debian's 6.1 (no in-tree service): the kernel's headers installed (by
# tests/systemd/run, with this root's dpkg), both packages installed with
# apt, DKMS builds tlsup.ko inside this guest, the module loads, the
# packaged agent serves a kernel consumer through it.
phase_dkms() {
	echo "TAP version 13"
	local start st kver
	kver=$(uname -r)
	start=$(date +%s)
	cd "$T/debs" || exit 1
	# The root copy has the image's modules and the headers' build link
	# (tests/systemd/run), on the root tree itself: what DKMS installs
	# there is still there at the next boot.
	check "/lib/modules/$kver is the root tree's own (not a tmpfs overlay)" \
		bash -c "! grep -Eq ' (/usr)?/lib/modules overlay ' /proc/mounts"
	check "the kernel's headers are installed: /lib/modules/$kver/build/.config" \
		test -e "/lib/modules/$kver/build/.config"
	DEBIAN_FRONTEND=noninteractive apt install -y ./tlsup-dkms_*_all.deb \
		./tlsupd_*_amd64.deb >"$WORK/apt.log" 2>&1
	st=$?
	cd "$WORK" || exit 1
	check "apt install ./tlsup-dkms_*.deb ./tlsupd_*.deb ($(( $(date +%s) - start ))s)" \
		test "$st" = 0 || sed 's/^/#   /' "$WORK/apt.log" | tail -n 30
	local status_line
	status_line=$(dkms status -k "$kver" tlsup 2>&1)
	check "DKMS built and installed tlsup for $kver ('$status_line')" \
		grep -q "^tlsup/.*$kver.*installed" <<<"$status_line"
	check "modinfo: tlsup.ko under updates/dkms ($(modinfo -n tlsup 2>&1))" \
		bash -c 'modinfo -n tlsup | grep -q /updates/dkms/'
	check "modprobe tlsup" modprobe tlsup
	check "the handshake family is registered" genl ctrl get name handshake
	is "tlsupd.service started by the package" "$(prop tlsupd.service ActiveState)" active
	install -m 0644 "$T/pki/ca.pem" /etc/tlsupd/ca.pem
	install -m 0644 "$T/pki/client.pem" /etc/tlsupd/client.pem
	install -m 0600 -o root -g root "$T/pki/client.key" /etc/tlsupd/client.key
	good_conf
	# The test configuration (a restart; the agent, if apt started it
	# before DKMS had built tlsup.ko, has been waiting for the family and
	# started by itself at the modprobe; not asserted here yet).
	systemctl restart tlsupd.service
	insmod "$T/tlsup_testmod.ko" || { not_ok "insmod tlsup_testmod.ko"; finish; }
	handshake "a consumer's handshake through the DKMS-built tlsup.ko and the packaged agent"
	is "tlsupd active for the next boot's test" "$(prop tlsupd.service ActiveState)" active
	finish
}

phase_boot() {
	echo "TAP version 13"
	# After the dkms phase, the module DKMS built must still be there (a
	# tmpfs overlay once lost it at power-off, and this check was skipped).
	if [ -e "$T/dkms" ]; then
		check "tlsup.ko from DKMS still installed at the next boot" \
			test -e /usr/lib/modules/"$(uname -r)"/updates/dkms/tlsup.ko
		check "tlsup.ko loaded at boot (systemd-modules-load)" test -d /sys/module/tlsup
	fi
	is "tlsupd.service started at boot" "$(prop tlsupd.service ActiveState)" active
	is "... without a restart" "$(prop tlsupd.service NRestarts)" 0
	local t_agent t_pre t_modules
	t_agent=$(prop tlsupd.service ActiveEnterTimestampMonotonic)
	t_pre=$(prop remote-fs-pre.target ActiveEnterTimestampMonotonic)
	t_modules=$(prop systemd-modules-load.service ActiveEnterTimestampMonotonic)
	check "ready before remote-fs-pre.target ($t_agent < $t_pre us)" test "$t_agent" -gt 0 -a "$t_agent" -lt "$t_pre"
	check "after systemd-modules-load.service ($t_modules < $t_agent us)" \
		test "$t_modules" -gt 0 -a "$t_modules" -lt "$t_agent"
	# tlsup-dkms's modules-load.d file names tlsup.ko, which a kernel with
	# the in-tree net/handshake does not have: the boot is still clean.
	check "/usr/lib/modules-load.d/tlsup.conf installed" test -f /usr/lib/modules-load.d/tlsup.conf
	is "systemd-modules-load.service" \
		"$(prop systemd-modules-load.service ActiveState)/$(prop systemd-modules-load.service Result)" \
		active/success
	local failed_units
	failed_units=$(systemctl list-units --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')
	is "no failed unit" "$failed_units" ""
	insmod "$T/tlsup_testmod.ko" || { not_ok "insmod tlsup_testmod.ko"; finish; }
	handshake "handshake through the agent systemd started at boot"
	finish
}

case $phase in
install) phase_install ;;
dkms) phase_dkms ;;
boot) phase_boot ;;
*) echo "Bail out! unknown phase $phase"; finish ;;
esac
