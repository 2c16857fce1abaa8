#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot an x86-64 kernel under qemu with the host's root read-only over 9p
# and run one script in it: the contract of tools/uml/run.sh.
#
#   tools/vm/run.sh [-k KERNEL] [-c CPUS] [-t SECONDS] [-m MEM]
#                   [-l CONSOLE_LOG] -- SCRIPT [ARGS...]
#
# KERNEL is a name from tools/vm/images.conf (Debian's own kernels:
# stock-6.1 the default, stock-6.1-rt, stock-6.12) or "debug" / "kcsan"
# (the x86-64 debug kernels tools/vm/kernel.sh builds). CPUS: virtual CPUs (default 2).
# SCRIPT runs as root inside the guest with TLSUP_ROOT set to the
# repository, TLSUP_RUN to a fresh run directory on the host that both
# sides see (writable), TLSUP_WORK to a tmpfs directory for sockets and
# scratch files (copied back into TLSUP_RUN at the end), TLSUP_KDIR to the
# tree modules build against. The exit status is SCRIPT's; 124 if the
# time bound passed, 125 if the guest died without reporting one. The
# console goes to CONSOLE_LOG and, with TLSUP_VERBOSE=1, to stdout.
#
# Acceleration: TCG, multi-threaded (each virtual CPU a host thread), unless
# /dev/kvm is a KVM that boots stock kernels (kvm_intel or kvm_amd; not
# kvm_pvm). TLSUP_VM_ACCEL=tcg|kvm overrides the choice. TLSUP_VM_APPEND
# adds to the guest kernel's command line (e.g. "preempt=full").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kernel=stock-6.1 cpus=2 timeout=600 mem=2048M log=
while getopts "k:c:t:m:l:" opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	c) cpus=$OPTARG ;;
	t) timeout=$OPTARG ;;
	m) mem=$OPTARG ;;
	l) log=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { echo "usage: run.sh [opts] -- SCRIPT [ARGS]" >&2; exit 2; }
script=$(realpath "$1")
shift

# shellcheck source=tools/lib/kernels.sh
. "$root/tools/lib/kernels.sh"
if [ "$kernel" = debug ] || [ "$kernel" = kcsan ]; then
	image=$("$here/kernel.sh" "$kernel")
else
	image=$("$here/fetch.sh" "$kernel")
fi
release=$(basename "$(readlink -f "$image/headers")" | sed 's/^linux-headers-//')
[ -e "$image/kernelrelease" ] && release=$(cat "$image/kernelrelease")
kdir=$(readlink -f "$image/headers")

build=$root/build/vm
mkdir -p "$build"
# The guest's last step: a reboot, which ends qemu (-no-reboot).
poweroff=$build/reboot
guest_helper "$root/tools/uml/poweroff.c" "$poweroff" -DTLSUP_REBOOT

accel=${TLSUP_VM_ACCEL:-}
if [ -z "$accel" ]; then
	accel=tcg
	if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
		{ [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
		accel=kvm
	fi
fi
case $accel in
tcg) accel_args=(-accel "tcg,thread=multi" -cpu max) ;;
kvm) accel_args=(-accel kvm -cpu host) ;;
*) echo "run.sh: TLSUP_VM_ACCEL must be tcg or kvm" >&2; exit 2 ;;
esac

run=$(mktemp -d "$build/run.XXXXXX")
{
	printf 'export TLSUP_ROOT=%q TLSUP_KDIR=%q TLSUP_KERNEL=%q TLSUP_RELEASE=%q\n' \
		"$root" "$kdir" "$kernel" "$release"
	# Major.minor, as tools/uml/run.sh exports it.
	printf 'export TLSUP_VERSION=%q TLSUP_CPUS=%q\n' "$(echo "$release" | cut -d. -f1-2)" "$cpus"
	printf 'export TLSUP_RUN=%q\n' "$run"
	# Paths under the host's /tmp that the guest needs (its /tmp is its own).
	printf 'TLSUP_BIND=%q\n' "$script"
	# Test selection and tuning variables reach the guest too.
	guest_env_passthrough TLSUP_FLAVOUR
} >"$run/env"
guest_cmd "$run" "$script" "$@"
log=${log:-$run/console.log}

# Unknown kernel parameters with '=' reach init as environment variables.
# no_timer_check: under TCG on a loaded host the boot-time check that the
# timer interrupt reaches the IO-APIC can miss its window, and a stock 6.1
# then panics ("IO-APIC + timer doesn't work!"; seen in a cold make check
# at load 9). The check tests real hardware; here it only tests the host.
append="console=ttyS0 panic=-1 quiet loglevel=4 no_timer_check TLSUP_INIT=$here/guest-init"
append+=" TLSUP_RUN=$run TLSUP_POWEROFF=$poweroff TLSUP_IMAGE=$image"
# More for the guest's kernel (a benchmark's "preempt=full", say).
append+=${TLSUP_VM_APPEND:+ $TLSUP_VM_APPEND}
# q35's ACPI tables route PCI interrupts without the AML loops that take
# the debug kernel minutes under TCG (see tools/vm/kernel.sh).
# The debug kernels have no ACPI and find their CPUs in SeaBIOS's MP
# table, which lists only the first CPU of each package; -smp N alone is
# one socket of N cores on q35 since QEMU 6.2: one CPU online. One CPU per
# socket there; Debian's kernels read ACPI's tables and keep QEMU's default.
smp=$cpus
case $kernel in debug | kcsan) smp=$cpus,sockets=$cpus,cores=1,threads=1 ;; esac
# A guest whose init has not started after TLSUP_VM_BOOT_LIMIT seconds
# (default 240) is stopped and counted as dead at boot, so
# boot_until_init boots it again. Init starts 15-20 s into a boot of the
# debug kernel on four vCPUs under TCG with both host CPUs busy beside it
# (its kernel alone: 15 s to "Run /init"; the stock kernels sooner), and
# the guest runs at nice 0 above every build (scripts/check-all), so 240
# s is ten times that. The limit was 900 s until a cold make check lost
# 15 minutes of its critical path to one such boot (e2e-debug, 1077 s for
# one case; nothing on the console, as before). Seen before that in a
# warm make check: a 4-vCPU debug kernel whose three other vCPUs never
# ran a single instruction, the first one spinning, nothing on the
# (quiet) console, until the suite's 40-minute bound. Before a hung guest
# is stopped, QEMU's monitor is asked where each vCPU is; the console
# gets one TLSUP-BOOT-HUNG line per vCPU (its RIP, and the symbol when
# the image has a System.map), for the next one to say where it hung.
boot_limit=${TLSUP_VM_BOOT_LIMIT:-240}
# The monitor's socket: a short path (a Unix socket's is at most 107
# bytes, a checkout's may be longer).
monitor=$(mktemp -u /tmp/tlsup-qmon.XXXXXX)
# guest-init prints TLSUP_RUN= first (the kernel is quiet here).
started='^TLSUP_RUN='
# where_vcpus: one line per vCPU, from the monitor's "info registers -a".
where_vcpus() {
	python3 - "$monitor" "$image/System.map" "$cpus" <<'PY' || echo "TLSUP-BOOT-HUNG: the monitor did not answer"
import bisect, os, re, socket, sys, time
mon, sysmap, cpus = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
s.connect(mon)
s.sendall(b"info registers -a\n")
out, end = b"", time.time() + 10
while time.time() < end:
    try:
        b = s.recv(65536)
    except socket.timeout:
        b = b""
    out += b
    tail = out.split(b"info registers -a", 1)[-1]
    if tail.count(b"RIP=") >= cpus and tail.rstrip().endswith(b"(qemu)"):
        break
syms = []
if os.path.exists(sysmap):
    for line in open(sysmap):
        f = line.split()
        if len(f) >= 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    syms.sort()
tail = out.split(b"info registers -a", 1)[-1].decode(errors="replace")
for block in re.split(r"(?=CPU#\d+)", tail):
    c, r = re.match(r"CPU#(\d+)", block), re.search(r"RIP=([0-9a-f]+)", block)
    if not c or not r:
        continue
    rip, where = int(r.group(1), 16), ""
    i = bisect.bisect_right(syms, (rip, "\uffff")) - 1
    if syms and i >= 0 and rip - syms[i][0] < 0x10000:
        where = " (%s+0x%x)" % (syms[i][1], rip - syms[i][0])
    halted = " halted" if re.search(r"\bHLT=1\b", block) else ""
    print("TLSUP-BOOT-HUNG: vCPU %s RIP=%016x%s%s" % (c.group(1), rip, where, halted))
PY
}
boot() {
	local qemu waited=0 where
	status=0
	rm -f "$monitor"
	timeout -k 10 "$timeout" qemu-system-x86_64 -machine q35 "${accel_args[@]}" \
		-smp "$smp" -m "$mem" -display none -monitor "unix:$monitor,server=on,wait=off" \
		-serial stdio -no-reboot \
		-nic none -device virtio-rng-pci \
		-kernel "$image/vmlinuz" -initrd "$image/initrd" -append "$append" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$run,mount_tag=tlsuprun,security_model=none,multidevs=remap" \
		</dev/null >"$log" 2>&1 &
	qemu=$!
	while kill -0 "$qemu" 2>/dev/null && ! grep -a -q "$started" "$log"; do
		if [ "$waited" -ge "$boot_limit" ]; then
			where=$(where_vcpus 2>&1)
			# timeout(1) passes the signal on to QEMU.
			kill "$qemu" 2>/dev/null || true
			wait "$qemu" 2>/dev/null || true
			printf 'TLSUP-BOOT-HUNG: init had not started after %ss\n%s\n' "$boot_limit" "$where" >>"$log"
			status=125
			rm -f "$monitor"
			return
		fi
		sleep 2
		waited=$((waited + 2))
	done
	kill -0 "$qemu" 2>/dev/null && echo "run.sh: init started within $((waited + 2))s" >&2
	wait "$qemu" || status=$?
	rm -f "$monitor"
}
boot_until_init run.sh "$log" "$started"
# The exit status is the guest's (its console's marker line).
guest_result "$status" "$timeout" "$log" "$run" "qemu exit $status"
