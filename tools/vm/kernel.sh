#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the x86-64 debug kernel tools/vm/run.sh boots (-k debug).
#
#   tools/vm/kernel.sh debug|kcsan|source
#     debug  KASAN, lockdep, DEBUG_ATOMIC_SLEEP with full preemption,
#            kmemleak, debugobjects, failslab, KUnit, UBSAN's runtime
#            (tlsup's test build instruments its own objects) (make check)
#     kcsan  the same without KASAN/kmemleak, with KCSAN (make stress)
#     source only extracts linux-source-6.1 and prints its directory
#            (scripts/checkpatch.pl for make style)
# TLSUP_KERNEL_CONFIG_ONLY=1 stops after the configuration (checked against
# the fragments) and prints the .config's path.
#
# Built from Debian's linux-source-6.1 (the same release as the stock 6.1
# image) into $TLSUP_CACHE/build/x86-6.1-FLAVOUR with ccache, from
# allnoconfig + tools/vm/config/*.config (only what the guests use); rebuilt
# only when a fragment, this recipe or the source version changes. Prints
# the directory, laid out like a fetched image (tools/vm/fetch.sh):
# vmlinuz, initrd, kernelrelease, root/lib/modules/RELEASE, and headers
# (the build tree itself, which modules build against).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TLSUP_CACHE:-$HOME/.cache/tlsup}
flavour=${1:-debug}
jobs=${TLSUP_JOBS:-$(nproc)}
version=6.1

case $flavour in debug|kcsan|source) ;; *) echo "kernel.sh: unknown flavour '$flavour'" >&2; exit 2 ;; esac
log() { echo "vm/kernel.sh: $*" >&2; }

# shellcheck source=tools/lib/kernels.sh
. "$here/../lib/kernels.sh"
# The source tree is shared with tools/uml/kernel.sh.
kernel_source "$version"
if [ "$flavour" = source ]; then
	echo "$src"
	exit 0
fi

fragments=("$here/config/debug.config")
[ "$flavour" = kcsan ] && fragments+=("$here/config/kcsan.config")

# Bump when the build recipe below changes in a way that needs a rebuild.
recipe=2
stamp_want=$(kernel_stamp "$recipe" "${fragments[@]}")
out=$cache/build/x86-$version-$flavour
stamp=$out/.tlsup-stamp

mkdir -p "$cache/build"
exec 8>"$cache/build/.lock-x86-$version-$flavour"
flock 8
# The initramfs: only init (9p and virtio are built in); rebuilt alone
# when init.c changes.
make_initrd() {
	local ird
	ird=$(mktemp -d)
	gcc -static -O2 -Wall -o "$ird/init" "$here/init.c"
	(cd "$ird" && find . | sort | cpio -o -H newc --quiet) | gzip -1 >"$out/initrd.tmp"
	rm -rf "$ird"
	mv "$out/initrd.tmp" "$out/initrd"
	sha256sum <"$here/init.c" | cut -c1-16 >"$out/.stamp-initrd"
}
if [ -f "$out/vmlinuz" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$stamp_want" ]; then
	[ "$(cat "$out/.stamp-initrd" 2>/dev/null)" = "$(sha256sum <"$here/init.c" | cut -c1-16)" ] ||
		make_initrd
	echo "$out"
	exit 0
fi

kernel_ccache
mkdir -p "$out"
rm -f "$stamp"
kmake=(make -C "$src" O="$out" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc")

log "configuring x86-$version-$flavour in $out"
"${kmake[@]}" allnoconfig >&2
for f in "${fragments[@]}"; do kernel_apply_fragment "$out/.config" "$f"; done
"${kmake[@]}" olddefconfig >&2

kernel_check_fragments "$out/.config" "${fragments[@]}"
if grep -q '^CONFIG_NET_HANDSHAKE=y' "$out/.config"; then
	log "config: NET_HANDSHAKE is on; tlsup cannot load on this tree"
	exit 1
fi

if [ "${TLSUP_KERNEL_CONFIG_ONLY:-0}" = 1 ]; then
	echo "$out/.config"
	exit 0
fi
log "building x86-$version-$flavour (-j$jobs); from an empty cache about 20 minutes on two cores (1136 objects, 1193 CPU-s measured)"
start=$(date +%s)
"${kmake[@]}" -j"$jobs" bzImage modules >&2
# No modules of its own, but modprobe and depmod want the directory.
rm -rf "$out/root"
"${kmake[@]}" INSTALL_MOD_PATH="$out/root" modules_install >&2
log "built in $(( $(date +%s) - start ))s"

release=$("${kmake[@]}" -s kernelrelease)
echo "$release" >"$out/kernelrelease"
ln -sfn arch/x86/boot/bzImage "$out/vmlinuz"
ln -sfn . "$out/headers"
make_initrd
echo "$stamp_want" >"$stamp"
echo "$out"
