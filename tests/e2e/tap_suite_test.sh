#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/tap-suite and scripts/summary on the host, with a stand-in for
# tools/target.sh that "runs" a guest by writing a given TAP output and
# exit status: what a suite's result counts, and what the summary table
# (all a CI page keeps) says of a failure. Prints TAP; exits 1 on a
# failure.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/scripts" "$work/tools" "$work/run" "$work/results" "$work/logs"
cp "$root/scripts/tap-suite" "$root/scripts/check-console" "$root/scripts/summary" "$work/scripts/"
cat >"$work/tools/target.sh" <<'EOF'
#!/usr/bin/env bash
# target.sh run TARGET -l LOG ...: the guest's output is $FAKE_OUT.
log=$4
printf 'TLSUP_RUN=%s\n%s' "$FAKE_RUN" "${FAKE_CONSOLE:-}" >"$log"
printf '%s' "$FAKE_OUT" >"$FAKE_RUN/output"
exit "${FAKE_STATUS:-0}"
EOF
chmod +x "$work/tools/target.sh"

# shellcheck source=tests/e2e/tap_check.sh
. "$root/tests/e2e/tap_check.sh"
# suite OUTPUT STATUS: runs tap-suite on a guest that printed OUTPUT and
# exited STATUS; $said is what tap-suite printed, $counts its result.
suite() {
	mkdir -p "$work/run" # tap-suite removes a passing run's
	said=$(FAKE_OUT=$1 FAKE_STATUS=$2 FAKE_RUN=$work/run TLSUP_RESULTS=$work/results \
		"$work/scripts/tap-suite" s t -- guest 2>&1)
	counts=$(cat "$work/results/s")
}

suite $'ok 1 - a\nok 2 - b\n1..2\n' 0
check "every case passed, plan printed: 2 0" "2 0" "$counts"
suite $'ok 1 - a\nnot ok 2 - b\n1..2\n' 1
check "one case failed, plan printed: 1 1" "1 1" "$counts"
suite $'ok 1 - a\nnot ok 2 - b\n' 1
check "no plan: one failure more" "1 2" "$counts"
check "no plan: said after which case" yes \
	"$([[ $said == *"no TAP plan: the guest stopped after case 2"* ]] && echo yes || echo "$said")"
suite $'ok 1 - a\nok 2 - b\n' 0
check "no plan, every result ok, exit 0: still a failure" "2 1" "$counts"
suite $'ok 1 - a\nBail out! guest.sh exited (1) during case 2: kill x\n' 1
check "Bail out! without a plan: counted once" "1 1" "$counts"
suite $'ok 1 - a\n' 124
check "time guard without a plan: counted once" "1 1" "$counts"
suite '' 1
check "no output at all: one failure" "0 1" "$counts"
# Two later failures with 40 lines each: a tail of 50 lost the first's.
later=$(for i in $(seq 40); do echo "# later $i"; done)
suite $'ok 1 - a\n# ---- b\n# expected status = \'-110\', got \'\'\nnot ok 2 - b\n'"$later"$'\nnot ok 3 - c\n'"$later"$'\nnot ok 4 - d\n1..4\n' 1
check "the first failure's lines come first" yes \
	"$([[ $said == *"# expected status = '-110', got ''"* ]] && echo yes || echo "$said")"

# The summary: a failing row, and under it the first missed expectation
# of the suite's log.
echo "s" >"$work/results/expected"
echo "1 2" >"$work/results/s"
printf '%s\n' 'ok 1 - a' '# ---- b' '#   left 180 s after the run, TCP still closing their sockets' \
	"# expected requests alive after the case = '0', got '1'" 'not ok 2 - b # time=183s' >"$work/logs/s.log"
table=$(TLSUP_RESULTS=$work/results TLSUP_LOGS=$work/logs "$work/scripts/summary")
check "summary: the failing row names the first not ok" yes \
	"$([[ $(sed -n 2p <<<"$table") == *"not ok 2 - b # time=183s" ]] && echo yes || echo "$table")"
check "summary: the line under it names what was missed first" yes \
	"$([[ $(sed -n 3p <<<"$table") == *"left 180 s after the run, TCP still closing their sockets" ]] && echo yes || echo "$table")"
check "summary: the closing line" "1 passed, 2 failed" "$(tail -n 1 <<<"$table")"
echo "1..$n"
exit $failed
