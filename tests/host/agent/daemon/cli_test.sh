#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# cli_test.sh TLSUPD TLSUPCTL VERSION: the command lines of tlsupd and
# tlsupctl as tlsupd(8) and tlsupctl(8) describe them: every long option,
# --help, --version, exit statuses, and tlsupctl without a running tlsupd.
# Prints TAP-like "ok"/"not ok" lines; exits non-zero on any failure.
set -uo pipefail
tlsupd=$1 tlsupctl=$2 version=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0 n=0

# check NAME WANT_STATUS CMD...: runs CMD, output in $out.
check() {
	local name=$1 want=$2 got
	shift 2
	n=$((n + 1))
	out=$("$@" 2>&1)
	got=$?
	if [ "$got" = "$want" ]; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name: exit $got, wanted $want; output:"
		echo "$out" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
}
# has NAME PATTERN: the last check's output matches PATTERN.
has() {
	n=$((n + 1))
	if grep -q -- "$2" <<<"$out"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1: no '$2' in:"
		echo "$out" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
}

cat >"$work/good.conf" <<CONF
[agent]
control_socket = $work/ctl/control
[debug]
loglevel = 0
[authenticate]
keyrings = tlsupd-cli-test-missing
CONF
printf '[agent]\nworkers = many\n' >"$work/bad.conf"

# ---- tlsupd ----
check "tlsupd --help" 0 "$tlsupd" --help
for opt in --config= --workers= --debug --check --stderr --help --version; do
	has "tlsupd --help lists $opt" "$opt"
done
has "tlsupd --help names the exit statuses" "Exit status: 0 ok, 1 failure, 2 usage"
check "tlsupd -h" 0 "$tlsupd" -h
check "tlsupd --version" 0 "$tlsupd" --version
has "tlsupd --version prints VERSION" "^tlsupd (tlsup) $version, GnuTLS "
check "tlsupd -v" 0 "$tlsupd" -v
check "tlsupd --bogus is a usage error" 2 "$tlsupd" --bogus
has "a usage error prints the usage" "usage: tlsupd"
check "tlsupd extra argument" 2 "$tlsupd" extra
check "tlsupd --workers=0" 2 "$tlsupd" --workers=0
check "tlsupd --workers=x" 2 "$tlsupd" --workers=x
check "tlsupd -w 257" 2 "$tlsupd" -w 257
check "tlsupd --check --config=good" 0 "$tlsupd" --check --config="$work/good.conf"
has "--check reports OK" "$work/good.conf: OK"
check "tlsupd -t -c good -s -d -w 2" 0 "$tlsupd" -t -c "$work/good.conf" -s -d -w 2
check "tlsupd --check --config=bad" 1 "$tlsupd" --check --config "$work/bad.conf"
has "--check names file, section and key" "$work/bad.conf: \[agent\] workers: 'many' is not a number"
check "tlsupd --check of a missing file" 1 "$tlsupd" --check -c "$work/none.conf"
# The stream format: every line starts with a priority.
check "tlsupd --check lines carry priorities" 1 "$tlsupd" -t -c "$work/bad.conf"
has "priority prefix" "^<3>"

# ---- tlsupctl ----
check "tlsupctl --help" 0 "$tlsupctl" --help
for opt in --config= --socket= --help --version "status \[--json|--raw\]" reload test-stall-worker; do
	has "tlsupctl --help lists $opt" "$opt"
done
check "tlsupctl --version" 0 "$tlsupctl" --version
has "tlsupctl --version prints VERSION" "^tlsupctl (tlsup) $version$"
check "tlsupctl without command" 2 "$tlsupctl"
check "tlsupctl bogus command" 2 "$tlsupctl" frobnicate
check "tlsupctl status --bogus" 2 "$tlsupctl" -s "$work/none" status --bogus
check "tlsupctl status --json --raw" 2 "$tlsupctl" -s "$work/none" status --json --raw
check "tlsupctl reload extra" 2 "$tlsupctl" -s "$work/none" reload now
check "tlsupctl test-stall-worker needs N MS" 2 "$tlsupctl" -s "$work/none" test-stall-worker 1

# Nobody listens: LSB "not running" (3), the kernel's counters still shown.
check "status, agent down: exit 3" 3 "$tlsupctl" --socket="$work/none" status
has "status says the agent is down" "^tlsupd: not running ($work/none: No such file or directory)"
has "status still shows the kernel's side" "^kernel"
check "status --json, agent down: exit 3" 3 "$tlsupctl" -s "$work/none" status --json
n=$((n + 1))
if echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["agent"]["running"] is False; assert "error" in d["agent"]; assert "kernel" in d' 2>/dev/null; then
	echo "ok $n - status --json is JSON with agent.running false"
else
	echo "not ok $n - status --json: $out"
	failed=$((failed + 1))
fi
check "status --raw, agent down: exit 3" 3 "$tlsupctl" -s "$work/none" status --raw
has "status --raw says running 0" "^running 0$"
check "reload, agent down: exit 3" 3 "$tlsupctl" -s "$work/none" reload
has "reload names the socket" "$work/none"
# A socket path with nobody behind it (stale): still "not running".
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$work/stale"
check "status, stale socket: exit 3" 3 "$tlsupctl" -s "$work/stale" status
# Something accepts but never answers: status unknown (4) after 5 s.
python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4); time.sleep(30)' "$work/mute" &
mute=$!
for _ in $(seq 50); do [ -S "$work/mute" ] && break; sleep 0.1; done
check "status, agent does not answer: exit 4" 4 "$tlsupctl" -s "$work/mute" status
has "... says it did not answer" "^tlsupd: status unknown ($work/mute: tlsupd did not answer within 5000 ms)"
kill "$mute" 2>/dev/null
wait "$mute" 2>/dev/null
# The socket comes from the same configuration tlsupd reads.
check "status takes control_socket from --config" 3 "$tlsupctl" --config="$work/good.conf" status
has "status names the configured socket" "$work/ctl/control"
check "-s wins over the configuration" 3 "$tlsupctl" -c "$work/good.conf" -s "$work/other" status
has "-s names its socket" "$work/other"
check "a bad configuration falls back to the default socket" 3 \
	"$tlsupctl" -c "$work/bad.conf" status
has "... and says why" "bad.conf: \[agent\] workers: 'many' is not a number; using /run/tlsupd/control"

echo "$((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
