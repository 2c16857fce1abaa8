#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/systemd/rootfs.sh: prints the directory of a Debian 12 root tree for
# the systemd guest, made with debootstrap into $TLSUP_CACHE/rootfs/ and
# reused until this file (the package list and the recipe below) changes.
# Never used as it is: each run boots a copy (tests/systemd/run), because
# systemd, dpkg and journald write to their root.
#
# The mirror is the one apt uses on this machine (deb.debian.org, the only
# network it has); TLSUP_DEBIAN_MIRROR overrides it.
set -euo pipefail

cache=${TLSUP_CACHE:-$HOME/.cache/tlsup}
mirror=${TLSUP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

# systemd as PID 1 and its tools (systemctl, journalctl, systemd-analyze),
# D-Bus for systemd-analyze security; what the tests run (kmod for insmod,
# keyutils, iproute2, procps, gnutls-bin's certtool); tlsupd's libraries so
# that the package installs offline; dkms and g++ so that tlsup-dkms does,
# and what Debian's kernel headers need to build a module there (their
# compiler package, kbuild's libraries).
packages=(
	systemd dbus kmod keyutils iproute2 procps gnutls-bin
	libgnutls30 libnl-3-200 libnl-genl-3-200 libkeyutils1 libglib2.0-0 libsystemd0
	dkms g++ make linux-compiler-gcc-12-x86 libelf1 libssl3 pahole
)

stamp=$( (echo "$suite $mirror"; cat "$0") | sha256sum | cut -c1-16)
dir=$cache/rootfs/$suite-$stamp
if [ -f "$dir/.tlsup-rootfs-done" ]; then
	echo "$dir"
	exit 0
fi
# One maker at a time (make check starts one early; the suite asks again):
# the second waits, then finds the tree done.
mkdir -p "$cache/rootfs"
exec 9>"$cache/rootfs/.lock"
flock 9
if [ -f "$dir/.tlsup-rootfs-done" ]; then
	echo "$dir"
	exit 0
fi

log() { echo "rootfs.sh: $*" >&2; }
mkdir -p "$cache/rootfs"
# Older recipes' trees are not used again.
for old in "$cache/rootfs/$suite"-*; do
	[ -e "$old" ] && [ "$old" != "$dir" ] && { log "removing $old"; rm -rf "$old"; }
done
rm -rf "$dir.tmp"
start=$(date +%s)
log "debootstrap $suite (minbase + ${#packages[@]} packages) from $mirror into $dir"
joined=$(IFS=,; echo "${packages[*]}")
# Downloaded packages stay in the cache: a new recipe only unpacks again.
mkdir -p "$cache/rootfs/archives"
if ! debootstrap --variant=minbase --include="$joined" --cache-dir="$cache/rootfs/archives" \
	"$suite" "$dir.tmp" "$mirror" >"$dir.log" 2>&1; then
	log "debootstrap failed; tail of $dir.log:"
	tail -n 20 "$dir.log" >&2
	exit 1
fi

# What every boot of the guest wants: a journal in memory (fast, nothing
# written to the tree's /var), no login prompts, no periodic jobs.
r=$dir.tmp
mkdir -p "$r/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\n' >"$r/etc/systemd/journald.conf.d/tlsup-test.conf"
for u in getty.target apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
	systemd-timesyncd.service; do
	ln -sf /dev/null "$r/etc/systemd/system/$u"
done
echo tlsup-guest >"$r/etc/hostname"
printf '127.0.0.1 localhost tlsup-guest\n::1 localhost ip6-localhost\n' >"$r/etc/hosts"
# apt in the guest installs local packages only.
rm -f "$r"/var/cache/apt/archives/*.deb
touch "$r/.tlsup-rootfs-done"
mv "$r" "$dir"
log "done in $(( $(date +%s) - start ))s"
echo "$dir"
