#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernels tlsup's suites run on, by one name each, whatever boots them:
#
#   tools/target.sh list                  the targets, one a line, with what they are
#   tools/target.sh kdir TARGET           the tree modules build against (built or
#                                         fetched into $TLSUP_CACHE on first use)
#   tools/target.sh modules TARGET        tlsup.ko, the test consumer and (where the
#                                         kernel has KUnit) the KUnit modules, built
#                                         into build/module/TARGET as DKMS would
#   tools/target.sh moddir TARGET         that directory
#   tools/target.sh run TARGET [-c CPUS] [-t SECONDS] [-m MEM] [-l LOG] -- SCRIPT [ARGS]
#                                         boot TARGET, run SCRIPT in it (see
#                                         tools/uml/run.sh and tools/vm/run.sh)
#
# Targets:
#   stock-6.1, stock-6.1-rt, stock-6.12   Debian's own kernel images under qemu
#                                         (tools/vm/images.conf pins them)
#   debug-6.1                             x86-64 6.1 with KASAN, lockdep, kmemleak,
#                                         fault injection and KUnit, under qemu
#   kcsan-6.1                             the same with KCSAN (make stress)
#   uml-6.12-nohs                         UML 6.12 without net/handshake
#   uml-6.1-base, uml-6.1-debug           UML 6.1 (make stress, make bench, make demo)
#   uml-6.12-upstream                     UML 6.12 with its net/handshake (superseded
#                                         by stock-6.12; kept for make bench-storm)
#
# In the guest: TLSUP_TARGET, TLSUP_MODULES (build/module/TARGET),
# TLSUP_WORK (scratch directory on the guest's tmpfs: sockets go there),
# TLSUP_RUN (shared with the host), TLSUP_ROOT, TLSUP_KDIR, TLSUP_VERSION.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cmd=${1:?usage: target.sh list|kdir|modules|moddir|run TARGET ...}
shift

targets() {
	cat <<'EOF'
stock-6.1          Debian 12's linux-image-6.1.0-N-amd64 (qemu)
stock-6.1-rt       Debian 12's linux-image-6.1.0-N-rt-amd64, PREEMPT_RT (qemu)
stock-6.12         Debian 12's linux-image-6.12.N+deb12-amd64, in-tree net/handshake (qemu)
debug-6.1          x86-64 6.1 debug kernel: KASAN, lockdep, kmemleak, failslab, KUnit (qemu)
kcsan-6.1          the same with KCSAN instead of KASAN/kmemleak: data races (qemu)
uml-6.12-nohs      UML 6.12 without net/handshake: tlsup.ko on a newer kernel, KUnit
uml-6.1-base       UML 6.1
uml-6.1-debug      UML 6.1 with KASAN, lockdep, kmemleak, failslab
uml-6.12-upstream  UML 6.12 with net/handshake, NVMe/TCP and NFS built in
EOF
}

if [ "$cmd" = list ]; then
	targets
	exit 0
fi
target=${1:?usage: target.sh $cmd TARGET}
shift
targets | awk '{ print $1 }' | grep -qx -- "$target" ||
	{ echo "target.sh: unknown target '$target' (tools/target.sh list)" >&2; exit 2; }

# UML targets: flavour and version for tools/uml.
uml_flavour() {
	case $target in
	uml-6.12-nohs) echo base ;;
	uml-*) echo "${target##*-}" ;;
	esac
}
uml_version() { local v=${target#uml-}; echo "${v%%-*}"; }

kdir() {
	case $target in
	uml-*) "$root/tools/uml/kernel.sh" "$(uml_flavour)" "$(uml_version)" ;;
	debug-6.1 | kcsan-6.1) readlink -f "$("$root/tools/vm/kernel.sh" "${target%-6.1}")/headers" ;;
	stock-*) readlink -f "$("$root/tools/vm/fetch.sh" "$target")/headers" ;;
	esac
}

moddir() { echo "$root/build/module/$target"; }

modules() {
	local k m args=()
	k=$(kdir)
	m=$(moddir)
	mkdir -p "$m"
	# Kbuild of 6.1 builds in the source directory: each target gets its
	# own symlink farm so that the builds do not overwrite each other.
	for f in Kbuild kernel include scripts tests tools; do cp -rsf "$root/$f" "$m/"; done
	case $target in uml-*) args+=(ARCH=um SUBARCH=x86_64) ;; esac
	if grep -q '^CONFIG_NET_HANDSHAKE=y' "$k/.config"; then
		# The kernel's own service: only the test consumer, against the
		# kernel's <net/handshake.h> (tlsup's Kbuild refuses the tree).
		make -C "$k" M="$m/tools/testmod" "${args[@]}" modules
	elif grep -qE '^CONFIG_KUNIT=(y|m)' "$k/.config"; then
		make -C "$k" M="$m" "${args[@]}" TLSUP_TESTS=1 modules
	else
		# A distribution kernel: no KUnit, the test consumer only.
		make -C "$k" M="$m" "${args[@]}" TLSUP_TESTMOD=1 modules
	fi
}

run() {
	local cpus='' opts=() opt
	while getopts "c:t:m:l:" opt; do
		case $opt in
		c) cpus=$OPTARG ;;
		t | m | l) opts+=("-$opt" "$OPTARG") ;;
		*) exit 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	[ "${1:-}" = "--" ] && shift
	export TLSUP_TARGET=$target TLSUP_MODULES
	TLSUP_MODULES=$(moddir)
	case $target in
	uml-*)
		# TLSUP_FLAVOUR for the guest scripts that still read it.
		[ "${cpus:-1}" = 1 ] || echo "target.sh: $target has one CPU (asked for $cpus)" >&2
		"$root/tools/uml/run.sh" -f "$(uml_flavour)" -v "$(uml_version)" "${opts[@]}" -- "$@"
		;;
	debug-6.1 | kcsan-6.1)
		TLSUP_FLAVOUR=${target%-6.1} "$root/tools/vm/run.sh" -k "${target%-6.1}" -c "${cpus:-2}" \
			"${opts[@]}" -- "$@"
		;;
	stock-*)
		TLSUP_FLAVOUR=stock "$root/tools/vm/run.sh" -k "$target" -c "${cpus:-2}" "${opts[@]}" -- "$@"
		;;
	esac
}

case $cmd in
kdir) kdir ;;
moddir) moddir ;;
modules) modules ;;
run) run "$@" ;;
*) echo "target.sh: unknown command '$cmd'" >&2; exit 2 ;;
esac
