#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) a User-Mode Linux kernel for tlsup's tests.
#
#   tools/uml/kernel.sh FLAVOUR [VERSION]
#     FLAVOUR  base | debug | upstream (the in-tree net/handshake; 6.12)
#     VERSION  6.1 (default) | 6.12
#
# The kernel is built from Debian's linux-source-VERSION into
# $TLSUP_CACHE (default ~/.cache/tlsup), never into the repository, with
# ccache. It is rebuilt only when the config fragments, the build recipe
# ($recipe below) or the source package version change. Prints the build
# directory on stdout (the UML binary is DIR/linux; it is also the tree
# modules build against).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TLSUP_CACHE:-$HOME/.cache/tlsup}
flavour=${1:?usage: kernel.sh base|debug [6.1|6.12]}
version=${2:-6.1}
jobs=${TLSUP_JOBS:-$(nproc)}

case $flavour in base|debug|upstream) ;; *) echo "kernel.sh: unknown flavour '$flavour'" >&2; exit 2 ;; esac
case $version in 6.1|6.12) ;; *) echo "kernel.sh: unsupported version '$version'" >&2; exit 2 ;; esac

log() { echo "kernel.sh: $*" >&2; }
# shellcheck source=tools/lib/kernels.sh
. "$here/../lib/kernels.sh"

kernel_source "$version"

fragments=("$here/config/base.config")
[ "$version" = 6.12 ] && fragments+=("$here/config/common-6.12.config")
[ "$flavour" = debug ] && fragments+=("$here/config/debug.config")
[ "$flavour" = upstream ] && fragments+=("$here/config/upstream.config")
[ "$version" = 6.12 ] && [ "$flavour" = base ] && fragments+=("$here/config/nohs.config")

# Bump when the build recipe below changes in a way that needs a rebuild;
# comments and messages do not.
recipe=2
stamp_want=$(kernel_stamp "$recipe" "${fragments[@]}")
out=$cache/build/$version-$flavour
stamp=$out/.tlsup-stamp

if [ -x "$out/linux" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$stamp_want" ]; then
	echo "$out"
	exit 0
fi

kernel_ccache
# Two flavours of one version share the source tree, so a compile reads
# the same absolute source paths and the same O=-relative generated ones.
# With ccache's depend mode (kernel_ccache) a second flavour finds none of
# the first's objects (autoconf.h differs); a cold make check builds one
# UML kernel, and its misses cost a third less CPU that way. No debug
# info (DEBUG_INFO_NONE), so the build directory is not hashed.
mkdir -p "$out"
kmake=(make -C "$src" O="$out" ARCH=um SUBARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc")

log "configuring $version-$flavour in $out"
# make check's one UML kernel (6.12 nohs) starts from allnoconfig, like
# the debug kernel (tools/vm/kernel.sh): only what its fragments name
# (nohs.config lists what the guests needed of defconfig); the other
# flavours, make stress's, from UML's defconfig.
first_config=defconfig
[ "$version" = 6.12 ] && [ "$flavour" = base ] && first_config=allnoconfig
"${kmake[@]}" "$first_config" >&2
for f in "${fragments[@]}"; do kernel_apply_fragment "$out/.config" "$f"; done
"${kmake[@]}" olddefconfig >&2

kernel_check_fragments "$out/.config" "${fragments[@]}"
if [ "$flavour" != upstream ] && grep -q '^CONFIG_NET_HANDSHAKE=y' "$out/.config"; then
	log "config: NET_HANDSHAKE is on; tlsup cannot load on this tree"
	exit 1
fi

log "building $version-$flavour (-j$jobs); from an empty cache 8-13 minutes on two cores"
start=$(date +%s)
"${kmake[@]}" -j"$jobs" >&2
log "built in $(( $(date +%s) - start ))s"
echo "$stamp_want" >"$stamp"
echo "$out"
