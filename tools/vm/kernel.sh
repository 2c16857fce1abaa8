#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the x86-64 debug kernel tools/vm/run.sh boots (-k debug).
#
#   tools/vm/kernel.sh debug|kcsan|source
#     debug  KASAN, UBSAN, lockdep, DEBUG_ATOMIC_SLEEP with full preemption,
#            kmemleak, debugobjects, failslab, KUnit (make check)
#     kcsan  the same without KASAN/kmemleak, with KCSAN (make stress)
#     source only extracts linux-source-6.1 and prints its directory
#            (scripts/checkpatch.pl for make style)
#
# Built from Debian's linux-source-6.1 (the same release as the stock 6.1
# image) into $TLSUP_CACHE/build/x86-6.1-FLAVOUR with ccache, from
# x86_64_defconfig + kvm_guest.config + tools/vm/config/*.config; rebuilt
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

pkg=linux-source-$version
tarball=/usr/src/$pkg.tar.xz
if [ ! -f "$tarball" ]; then
	log "installing $pkg"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2
fi
pkgver=$(dpkg-query -W -f='${Version}' "$pkg")

# The source tree is shared with tools/uml/kernel.sh (same place, same lock).
src=$cache/src/$pkg-$pkgver
mkdir -p "$cache/src"
(
	flock 9
	if [ ! -f "$src/Makefile" ]; then
		log "extracting $tarball into $src"
		rm -rf "$src.tmp" && mkdir -p "$src.tmp"
		tar -C "$src.tmp" -xf "$tarball" --strip-components=1
		mv "$src.tmp" "$src"
	fi
) 9>"$cache/src/.lock-$pkg"
if [ "$flavour" = source ]; then
	echo "$src"
	exit 0
fi

fragments=("$here/config/debug.config")
[ "$flavour" = kcsan ] && fragments+=("$here/config/kcsan.config")

# Bump when the build recipe below changes in a way that needs a rebuild.
recipe=1
stamp_want=$( (echo "$pkgver $recipe"; cat "${fragments[@]}") | sha256sum | cut -c1-16)
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

# Fragment lines: CONFIG_X=y|n|value or "# CONFIG_X is not set".
apply_fragment() {
	local args=() line name val
	while IFS= read -r line; do
		if [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
			args+=(--disable "${BASH_REMATCH[1]#CONFIG_}")
		elif [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			name=${BASH_REMATCH[1]#CONFIG_}
			val=${BASH_REMATCH[2]}
			case $val in
			y) args+=(--enable "$name") ;;
			n) args+=(--disable "$name") ;;
			m) args+=(--module "$name") ;;
			\"*) args+=(--set-str "$name" "${val//\"/}") ;;
			*) args+=(--set-val "$name" "$val") ;;
			esac
		fi
	done <"$1"
	"$src/scripts/config" --file "$out/.config" "${args[@]}"
}

command -v ccache >/dev/null || { log "ccache missing (run make deps)"; exit 1; }
export CCACHE_DIR=${CCACHE_DIR:-$cache/ccache}
mkdir -p "$out"
rm -f "$stamp"
kmake=(make -C "$src" O="$out" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc")

log "configuring x86-$version-$flavour in $out"
"${kmake[@]}" x86_64_defconfig >&2
"${kmake[@]}" kvm_guest.config >&2
for f in "${fragments[@]}"; do apply_fragment "$f"; done
"${kmake[@]}" olddefconfig >&2

# The fragment is the contract: say so loudly if olddefconfig dropped any of it.
for f in "${fragments[@]}"; do
	while IFS= read -r line; do
		[[ $line =~ ^#\ require:\ (CONFIG_[A-Za-z0-9_]+=y) ]] && line=${BASH_REMATCH[1]}
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=y$ ]]; then
			grep -qx "$line" "$out/.config" || { log "config: ${BASH_REMATCH[1]} did not stick"; exit 1; }
		fi
	done <"$f"
done
if grep -q '^CONFIG_NET_HANDSHAKE=y' "$out/.config"; then
	log "config: NET_HANDSHAKE is on; tlsup cannot load on this tree"
	exit 1
fi

log "building x86-$version-$flavour (-j$jobs); from an empty cache about 11 minutes on two cores"
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
