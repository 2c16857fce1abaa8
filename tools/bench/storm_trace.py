#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""storm_trace.py TRACE: per-handshake figures from the kernel's handshake
tracepoints (net/handshake, trace clock "mono"), as one JSON object.

Each request is followed from handshake_submit to handshake_complete (its
latency: what the consumer waits, kernel queue and agent included) and to
handshake_cmd_accept (how long it waited for the agent to take it). A
request pointer may be reused once its request is freed, so a submit starts
a new record for that pointer. handshake_submit_err counts submissions the
kernel refused (for instance -EAGAIN at the pending bound)."""
import json
import re
import sys

LINE = re.compile(r"\s(\d+\.\d+): (handshake_\w+): req=(\w+) sk=\w+(?: (\w+)=(-?\d+))?")


def percentile(values, q):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main():
    open_reqs = {}
    latencies, waits = [], []
    statuses = {}
    submit_errors = {}
    first = last = None
    for line in open(sys.argv[1], errors="replace"):
        m = LINE.search(line)
        if not m:
            continue
        ts, event, req = float(m.group(1)), m.group(2), m.group(3)
        arg = int(m.group(5)) if m.group(5) is not None else None
        if event == "handshake_submit":
            open_reqs[req] = {"submit": ts}
            first = ts if first is None else first
        elif event == "handshake_submit_err":
            submit_errors[str(arg)] = submit_errors.get(str(arg), 0) + 1
        elif event == "handshake_cmd_accept" and req in open_reqs:
            r = open_reqs[req]
            if "accept" not in r:
                r["accept"] = ts
                waits.append(ts - r["submit"])
        elif event == "handshake_complete" and req in open_reqs:
            r = open_reqs.pop(req)
            latencies.append(ts - r["submit"])
            statuses[str(arg)] = statuses.get(str(arg), 0) + 1
            last = ts

    def ms(v):
        return None if v is None else round(v * 1000, 3)

    ok = statuses.get("0", 0)
    out = {
        "handshakes": len(latencies),
        "handshakes_ok": ok,
        "handshakes_failed": len(latencies) - ok,
        "failed_by_status": {k: v for k, v in statuses.items() if k != "0"},
        "submit_rejected": sum(submit_errors.values()),
        "submit_rejected_by_errno": submit_errors,
        "never_completed": len(open_reqs),
        "latency_p50_ms": ms(percentile(latencies, 0.50)),
        "latency_p99_ms": ms(percentile(latencies, 0.99)),
        "latency_max_ms": ms(max(latencies) if latencies else None),
        "accept_wait_p50_ms": ms(percentile(waits, 0.50)),
        "accept_wait_p99_ms": ms(percentile(waits, 0.99)),
        "first_submit_to_last_complete_s": None if first is None or last is None
        else round(last - first, 6),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
