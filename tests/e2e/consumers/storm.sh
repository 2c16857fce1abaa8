# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The reconnect storm benchmark's smoke points (tools/bench/storm_lib.sh):
# it works through the real consumers, every controller and mount comes
# back, and every handshake is accounted for. How fast is make bench's.

. "$TLSUP_ROOT/tools/bench/storm_lib.sh"

# storm_check KIND JSON: the storm's line has every field, all came back,
# and at least the expected handshakes succeeded (a submission refused at
# upstream's pending bound is retried by the consumer, so more may run).
storm_check() {
	python3 - "$1" "$2" <<'PY' >"$WORK/storm.check" 2>&1 || fail "$(cat "$WORK/storm.check")"
import json, sys
kind, line = sys.argv[1], sys.argv[2]
s = json.loads(line)
t = s["trace"]
for k in ("time_to_all_live_s", "agent_cpu_s", "consumer_retries", "pending_max"):
    assert k in s, "no %s" % k
for k in ("latency_p50_ms", "latency_p99_ms", "accept_wait_p99_ms", "submit_rejected"):
    assert t.get(k) is not None, "no %s" % k
assert s["kind"] == kind, s["kind"]
assert s["all_live"] is True, "not every %s came back" % kind
assert t["handshakes_ok"] >= s["handshakes_expected"], \
    "%d handshakes succeeded, %d expected" % (t["handshakes_ok"], s["handshakes_expected"])
assert t["never_completed"] == 0, "%d handshakes never completed" % t["never_completed"]
assert s["time_to_all_live_s"] < 60, "took %ss" % s["time_to_all_live_s"]
# The agent's own READY-to-ACCEPT-reply histogram, read through tlsupctl
# before and after the storm: the storm's ACCEPTs are in between.
a = s.get("agent_accept") or {}
assert a.get("n") is not None, "no ACCEPT latency window: %s" % a
assert a["n"] > 0 and a["p99_us"] is not None, "no ACCEPT in the storm's window: %s" % a
assert not a.get("restarted"), "the agent restarted during the storm"
PY
}

case_storm_nvme_smoke() {
	BENCH_RECONNECT_DELAY=1 storm_nvme_setup 4 1 || { fail "storm set-up"; return; }
	local line
	line=$(storm_nvme_reset "smoke")
	log "$line"
	storm_check nvme "$line"
	storm_nvme_teardown
}

case_storm_nfs_smoke() {
	nfs_cleanup
	storm_nfs_pki 2 "$WORK/storm-pki"
	agent_stop
	agent_start -c "$STORM_NFS_CONF" || { fail "tlsupd with the storm PKI"; return; }
	storm_nfs_server || { fail "nfsd"; return; }
	storm_nfs_mount_all 2 || { fail "the first mounts"; return; }
	local line
	line=$(storm_nfs_remount "smoke")
	log "$line"
	storm_check nfs "$line"
	storm_nfs_teardown
}

STORM_CASES=(
	"storm smoke: 4 NVMe/TCP controllers reset at once|case_storm_nvme_smoke"
	"storm smoke: 2 NFS mounts remounted at once|case_storm_nfs_smoke"
)
