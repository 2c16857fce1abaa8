# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# private_root: sourced by guest scripts that run the kernel's own
# consumers with Debian's daemons. The guest's root is the host's (over
# UML's hostfs, read-write; or read-only over 9p in a qemu guest); this
# makes the parts those daemons write the guest's own: /etc is copied into
# the guest's memory and bound over itself (the daemons' /etc/exports,
# /etc/nvme, /etc/tlsupd are then the guest's), and /var/lib/nfs, /srv and
# /mnt are tmpfs. It also mounts configfs and the nfsd file system, adds
# the /dev/fd link udev would make (bash's <(...) needs it; /dev is the
# guest's devtmpfs), and on UML puts a modprobe first in PATH that accepts
# the built-in modules (UML loads none; the guest has no /lib/modules for
# its kernel).
private_root() {
	cp -a /etc /run/etc && mount --bind /run/etc /etc || return 1
	local d
	for d in /var/lib/nfs /srv /mnt; do
		mount -t tmpfs tmpfs "$d" || return 1
	done
	mkdir -p /var/lib/nfs/rpc_pipefs /var/lib/nfs/v4recovery /var/lib/nfs/nfsdcltrack
	# Distribution kernels have configfs and nfsd as modules (their file
	# system types appear when they load).
	grep -qw configfs /proc/filesystems || modprobe configfs || return 1
	mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config || return 1
	grep -qw nfsd /proc/filesystems || modprobe nfsd || return 1
	mount -t nfsd nfsd /proc/fs/nfsd || return 1
	ln -sfn /proc/self/fd /dev/fd
	mkdir -p /run/bin
	# A kernel with modules of its own (qemu guests bind the image's on
	# /lib/modules) keeps the real modprobe.
	[ -d "/lib/modules/$(uname -r)/kernel" ] && { export PATH=/run/bin:$PATH; return 0; }
	cat >/run/bin/modprobe <<'EOS'
#!/bin/sh
m=$(echo "$1" | tr - _)
[ -d "/sys/module/$m" ] && exit 0
echo "modprobe: $1 is not built into this kernel" >&2
exit 1
EOS
	chmod +x /run/bin/modprobe
	export PATH=/run/bin:$PATH
}
