#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a UML guest with the host's root over hostfs and run one script in it.
#
#   tools/uml/run.sh [-f base|debug] [-v 6.1|6.12] [-t SECONDS] [-m MEM]
#                    [-l CONSOLE_LOG] -- SCRIPT [ARGS...]
#
# SCRIPT runs as root inside the guest (cwd: a fresh run directory on the
# host, visible to both sides), with TLSUP_ROOT set to the repository. The
# exit status is SCRIPT's; 124 if the time bound passed, 125 if the guest
# died without reporting one. The console (kernel log and SCRIPT's output)
# goes to CONSOLE_LOG and, with TLSUP_VERBOSE=1, to stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
flavour=base version=6.1 timeout=300 mem=512M log=
while getopts "f:v:t:m:l:" opt; do
	case $opt in
	f) flavour=$OPTARG ;;
	v) version=$OPTARG ;;
	t) timeout=$OPTARG ;;
	m) mem=$OPTARG ;;
	l) log=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { echo "usage: run.sh [opts] -- SCRIPT [ARGS]" >&2; exit 2; }
script=$(realpath "$1")
shift

# shellcheck source=tools/lib/kernels.sh
. "$here/../lib/kernels.sh"
kdir=$("$here/kernel.sh" "$flavour" "$version")
build=$root/build/uml
mkdir -p "$build"
poweroff=$build/poweroff
guest_helper "$here/poweroff.c" "$poweroff"

run=$(mktemp -d "$build/run.XXXXXX")
{
	printf 'export TLSUP_ROOT=%q TLSUP_KDIR=%q TLSUP_FLAVOUR=%q TLSUP_VERSION=%q\n' \
		"$root" "$kdir" "$flavour" "$version"
	printf 'export TLSUP_RUN=%q\n' "$run"
	# Test selection and tuning variables reach the guest too.
	# shellcheck disable=SC2119 # no extra names for UML
	guest_env_passthrough
} >"$run/env"
guest_cmd "$run" "$script" "$@"
log=${log:-$run/console.log}

status=0
# Unknown kernel parameters with '=' reach init as environment variables.
timeout -k 10 "$timeout" "$kdir/linux" mem="$mem" rootfstype=hostfs rootflags=/ rw \
	init="$here/guest-init" TLSUP_RUN="$run" TLSUP_POWEROFF="$poweroff" \
	con=null con0=fd:0,fd:1 </dev/null >"$log" 2>&1 || status=$?
# The exit status is the guest's (its console's marker line).
guest_result "$status" "$timeout" "$log" "$run"
