# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# What tools/uml and tools/vm share, sourced (never run) by their
# kernel.sh and run.sh:
#
#   building a kernel   kernel_source, kernel_stamp, kernel_apply_fragment,
#                       kernel_check_fragments, kernel_ccache
#   running a guest     guest_helper, guest_env_passthrough, guest_cmd,
#                       guest_result, guest_died_at_boot, boot_until_init
#
# The caller sets `cache` ($TLSUP_CACHE) and defines log() (stderr) before
# it calls a kernel_* function; set -euo pipefail is the caller's.
# shellcheck disable=SC2154 # cache: the caller's

# kernel_source VERSION: Debian's linux-source-VERSION, installed if
# missing and unpacked once into $cache/src (shared by every kernel of that
# version, UML or x86-64; one extraction at a time). Sets `src` and
# `pkgver`.
kernel_source() {
	local pkg=linux-source-$1 tarball
	tarball=/usr/src/$pkg.tar.xz
	if [ ! -f "$tarball" ]; then
		log "installing $pkg"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2
	fi
	pkgver=$(dpkg-query -W -f='${Version}' "$pkg")
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
}

# kernel_stamp RECIPE FRAGMENT...: what a cached build must have been made
# from (source version, recipe number, fragments' text), 16 hex digits.
kernel_stamp() {
	local recipe=$1
	shift
	(echo "$pkgver $recipe"; cat "$@") | sha256sum | cut -c1-16
}

# kernel_apply_fragment CONFIG FRAGMENT: the fragment's lines
# (CONFIG_X=y|n|m|value or "# CONFIG_X is not set") set in CONFIG with the
# source tree's scripts/config.
kernel_apply_fragment() {
	local config=$1 args=() line name val
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
	done <"$2"
	"$src/scripts/config" --file "$config" "${args[@]}"
}

# kernel_check_fragments CONFIG FRAGMENT...: the fragments are the
# contract. Each "=y" line (and "# require: CONFIG_X=y" line: options that
# are selected, not set) must be in CONFIG, and each "=n" or "is not set"
# line must not be set there, unless a later fragment says otherwise;
# olddefconfig may have dropped or pulled in either. Says which and
# fails.
kernel_check_fragments() {
	local config=$1 f line name
	shift
	local -A want=()
	for f in "$@"; do
		while IFS= read -r line; do
			[[ $line =~ ^#\ require:\ (CONFIG_[A-Za-z0-9_]+=y) ]] && line=${BASH_REMATCH[1]}
			if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
				want[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
			elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
				want[${BASH_REMATCH[1]}]=n
			fi
		done <"$f"
	done
	for name in "${!want[@]}"; do
		case ${want[$name]} in
		y) grep -qx "$name=y" "$config" || { log "config: $name=y did not stick"; return 1; } ;;
		n) ! grep -q "^$name=[ym]" "$config" || { log "config: $name is set"; return 1; } ;;
		esac
	done
}

# kernel_ccache: ccache for the kernel builds, its directory in the cache
# (every build shares it) unless CCACHE_DIR says otherwise, in depend mode
# unless CCACHE_DEPEND says otherwise. ccache's default mode, on a miss,
# runs the preprocessor once to hash its output and again to compile: a
# kernel object costs 30-45% more CPU than gcc alone (kernel/kthread.o
# 0.98 s, 1.44 s through ccache, 0.89 s in depend mode, measured on the
# debug tree), and a cold make check misses every object. Depend mode
# takes the header list from the compiler's own -MMD file instead; a
# warm build hits directly either way. What it gives up: a second flavour
# of one version (6.12 "upstream" after "nohs") no longer finds the
# objects the two configurations agree on by their preprocessed text.
kernel_ccache() {
	command -v ccache >/dev/null || { log "ccache missing (run make deps)"; return 1; }
	export CCACHE_DIR=${CCACHE_DIR:-$cache/ccache}
	export CCACHE_DEPEND=${CCACHE_DEPEND:-1}
}

# guest_helper SOURCE BINARY [GCC-ARGS...]: the static helper a guest
# ends with (tools/uml/poweroff.c), rebuilt when its source is newer.
guest_helper() {
	local source=$1 binary=$2
	shift 2
	if [ ! -x "$binary" ] || [ "$source" -nt "$binary" ]; then
		gcc -static -O2 "$@" -o "$binary" "$source"
	fi
}

# guest_env_passthrough [NAME...]: "export K=V" lines for the variables
# that reach the guest from the caller's environment: test selection and
# tuning (E2E_*, KUNIT_*, BENCH_*, STRESS_*), TLSUP_MODULES, TLSUP_TARGET
# and the NAMEs given.
guest_env_passthrough() {
	local k v n
	while IFS='=' read -r k v; do
		case $k in
		E2E_* | KUNIT_* | BENCH_* | STRESS_* | TLSUP_MODULES | TLSUP_TARGET)
			printf 'export %s=%q\n' "$k" "$v"
			continue
			;;
		esac
		for n in "$@"; do
			if [ "$k" = "$n" ]; then printf 'export %s=%q\n' "$k" "$v"; fi
		done
	done < <(env)
	return 0
}

# guest_cmd RUN SCRIPT [ARGS...]: RUN/cmd, the one command the guest's
# init runs (after sourcing RUN/env).
guest_cmd() {
	local run=$1 a
	shift
	printf 'exec %q' "$1" >"$run/cmd"
	shift
	for a in "$@"; do printf ' %q' "$a" >>"$run/cmd"; done
	echo >>"$run/cmd"
}

# guest_result STATUS TIMEOUT LOG RUN [DETAIL]: the run's exit status from
# the guest's console (its TLSUP-EXIT-STATUS=N line): 124 when the time
# bound killed the guest (STATUS 124 or 137 from timeout -k), 125 when the
# guest ended without a marker (DETAIL, e.g. the emulator's exit status,
# goes into that message). A run that passed has its directory removed
# unless TLSUP_KEEP_RUNS=1 or its console lives there.
guest_result() {
	local status=$1 timeout=$2 log=$3 run=$4 detail=${5:-} marker code
	if [ "${TLSUP_VERBOSE:-0}" = 1 ]; then cat "$log"; fi
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		echo "run.sh: guest timed out after ${timeout}s (console: $log)" >&2
		return 124
	fi
	marker=$(grep -a -o 'TLSUP-EXIT-STATUS=[0-9]*' "$log" | tail -n 1 || true)
	if [ -z "$marker" ]; then
		echo "run.sh: guest ended without a status (${detail:+$detail, }console: $log)" >&2
		tail -n 30 "$log" >&2
		return 125
	fi
	code=${marker#TLSUP-EXIT-STATUS=}
	if [ "$code" = 0 ] && [ "${TLSUP_KEEP_RUNS:-0}" != 1 ] && [ "$log" != "$run/console.log" ]; then
		rm -rf "$run"
	fi
	return "$code"
}

# guest_died_at_boot WHO LOG STARTED N: true when the guest whose console
# is LOG died before the line matching STARTED (grep -E) showed that init
# ran: it never reached anything under test. Seen under TCG on a loaded
# two-core host: the kernel's panics ("IO-APIC + timer doesn't work!", one
# in sched_clock_cpu) and QEMU 7.2 aborting on its own assertion as the
# kernel set up a virtio device's MSI-X table ("msix_table_mmio_write:
# Assertion `addr + size <= dev->msix_entries_nr * PCI_MSIX_ENTRY_SIZE'
# failed", 11 s into a debug kernel's boot beside a C++ build; CI lost
# kunit-debug to it), and a boot that hung (tools/vm/run.sh's boot limit
# wrote TLSUP-BOOT-HUNG). Says so as WHO, moves LOG to LOG.boot-failed-N; the
# caller boots again. A death after init started is the run's result and
# is never retried.
guest_died_at_boot() {
	local who=$1 log=$2 started=$3 n=$4 what
	grep -a -q -E "$started" "$log" && return 1
	what=$(grep -a -m 1 -E 'Kernel panic|^qemu-system-[a-z0-9_]*: .*Assertion .* failed|^TLSUP-BOOT-HUNG:' "$log" | tr -d '\r')
	[ -n "$what" ] || return 1
	echo "$who: the guest died at boot, before init ran: $what" >&2
	echo "$who: booting again (that console: $log.boot-failed-$n)" >&2
	mv "$log" "$log.boot-failed-$n"
}

# boot_until_init WHO LOG STARTED: runs the caller's boot function, then
# again while guest_died_at_boot says the guest died before init, twice at
# most: a third death is not the emulator's bad luck.
boot_until_init() {
	local n
	boot
	for n in 1 2; do
		guest_died_at_boot "$1" "$2" "$3" "$n" || return 0
		boot
	done
}
