#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot Debian's own 6.1 kernel under qemu (or DEMO_TARGET, see
# tools/target.sh list) with the host's root, load tlsup.ko and show what a
# handshake agent sees. Each step says what it runs.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${DEMO_TARGET:-stock-6.1}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Kernel $target (fetched or built into ${TLSUP_CACHE:-~/.cache/tlsup}, reused when unchanged)"
"$root/tools/target.sh" kdir "$target" || exit 1
say "tlsup.ko and the test consumer for it, built as DKMS would (tools/target.sh modules $target)"
"$root/tools/target.sh" modules "$target" >"$root/build/demo-modules.log" 2>&1 ||
	{ tail -n 30 "$root/build/demo-modules.log"; exit 1; }
ls "$("$root/tools/target.sh" moddir "$target")"/tlsup.ko

say "Booting it (the host's root, read-only) and running tools/demo/guest.sh"
mkdir -p "$root/build/logs"
status=0
TLSUP_KEEP_RUNS=1 "$root/tools/target.sh" run "$target" -t 600 -l "$root/build/logs/demo-console.log" \
	-- "$root/tools/demo/guest.sh" || status=$?
grep -a -A1000 'TLSUP-DEMO-BEGIN' "$root/build/logs/demo-console.log" |
	grep -a -B1000 'TLSUP-DEMO-END' | grep -av 'TLSUP-DEMO-'
exit $status
