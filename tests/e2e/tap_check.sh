# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by the host-side shell tests (tests/e2e/lib_test.sh,
# tests/e2e/tap_suite_test.sh, tests/stress/live_wait_test.sh): check NAME
# WANT GOT prints one TAP line and counts it; the caller ends with
# echo "1..$n"; exit $failed.
# shellcheck disable=SC2034 # read by the caller
n=0 failed=0
check() { # NAME WANT GOT
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1: want '$2', got '$3'"
		failed=1
	fi
}
