#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot UML with the host's root, load tlsup.ko and show what a
# handshake agent sees. Each step says what it runs.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=${UML_VERSION:-6.1}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "UML kernel $version (built into ${TLSUP_CACHE:-~/.cache/tlsup}, reused when unchanged)"
kdir=$("$root/tools/uml/kernel.sh" base "$version")
echo "$kdir/linux"

say "Booting UML (the host's root, read-only in spirit, over hostfs) and running tools/demo/guest.sh"
status=0
TLSUP_KEEP_RUNS=1 "$root/tools/uml/run.sh" -t 300 -l "$root/build/uml/demo-console.log" \
	-- "$root/tools/demo/guest.sh" || status=$?
grep -a -A1000 'TLSUP-DEMO-BEGIN' "$root/build/uml/demo-console.log" |
	grep -a -B1000 'TLSUP-DEMO-END' | grep -av 'TLSUP-DEMO-'
exit $status
