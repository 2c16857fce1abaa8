#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a system of its own under qemu: a root tree (never the host's root)
# with systemd as PID 1 on one of Debian's kernels.
#
#   tools/vm/boot.sh [-k KERNEL] [-c CPUS] [-m MEM] [-t SECONDS] -l CONSOLE_LOG ROOTDIR [KERNEL-ARGS...]
#
# ROOTDIR is shared writable over 9p (security_model=passthrough: owners,
# modes and xattrs are real, as dpkg and systemd need them). The kernel
# image's modules appear on the guest's /lib/modules, read-only under a
# tmpfs overlay (depmod and DKMS write there; nothing reaches the cache,
# nothing outlives the boot) -- unless ROOTDIR has its own copy of them
# (ROOTDIR/lib/modules/RELEASE/modules.dep): then that copy is the guest's,
# writable, and what DKMS installs there is there at the next boot.
# The guest ends the run by powering off; the exit status is qemu's (124
# on the time bound). What the guest did is on the console and in ROOTDIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kernel=stock-6.1 cpus=2 mem=1024M timeout=600 log=
while getopts "k:c:m:t:l:" opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	c) cpus=$OPTARG ;;
	m) mem=$OPTARG ;;
	t) timeout=$OPTARG ;;
	l) log=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
rootdir=${1:?usage: boot.sh [opts] -l LOG ROOTDIR [KERNEL-ARGS]}
shift
[ -n "$log" ] || { echo "boot.sh: -l LOG is required" >&2; exit 2; }
[ -x "$rootdir/lib/systemd/systemd" ] || { echo "boot.sh: no systemd in $rootdir" >&2; exit 2; }

# shellcheck source=tools/lib/kernels.sh
. "$here/../lib/kernels.sh"

image=$("$here/fetch.sh" "$kernel")
accel=(-accel "tcg,thread=multi" -cpu max)
if [ "${TLSUP_VM_ACCEL:-}" = kvm ]; then accel=(-accel kvm -cpu host); fi

release=$(basename "$(ls -d "$image"/root/lib/modules/*/ | head -n 1)")
modules=(-virtfs "local,path=$image/root/lib/modules,mount_tag=modules,security_model=none,readonly=on,multidevs=remap")
owncopy=
if [ -e "$rootdir/lib/modules/$release/modules.dep" ]; then
	modules=()
	owncopy=TLSUP_MODULES=rootfs
fi

# The kernel arguments, kept here: inside boot(), $* is its own.
extra="$*"
boot() {
	status=0
	timeout -k 10 "$timeout" qemu-system-x86_64 -machine q35 "${accel[@]}" \
		-smp "$cpus" -m "$mem" -display none -monitor none -serial stdio -no-reboot \
		-nic none -device virtio-rng-pci \
		-kernel "$image/vmlinuz" -initrd "$image/initrd" \
		-append "console=ttyS0 panic=-1 no_timer_check TLSUP_ROOTFS=1 $owncopy TLSUP_INIT=/lib/systemd/systemd $extra" \
		-virtfs "local,path=$rootdir,mount_tag=rootfs,security_model=passthrough,multidevs=remap" \
		"${modules[@]}" \
		</dev/null >"$log" 2>&1 || status=$?
}
# The kernel's own line: systemd is PID 1 here, there is no guest-init.
boot_until_init boot.sh "$log" 'Run /init as init process'
exit "$status"
