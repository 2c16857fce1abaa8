#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""storm_report: turns storm.jsonl (tools/bench/storm_guest.sh) into
storm-PROFILE.json and a table. A point stormed several times is reported
by the median storm (by time until all live) with the range; failures are
summed. Exits 1 if a storm did not end with every controller or mount back,
or if a point is missing."""
import json
import os
import statistics
import sys


def worst(values):
    known = [v for v in values if v is not None]
    return max(known) if known else None


def main():
    src, dst, when, cpus, secs, profile = sys.argv[1:7]
    lines = [json.loads(l) for l in open(src) if l.startswith("{")]
    storms = [l for l in lines if "kind" in l]
    # The agent's own READY-to-ACCEPT-reply percentiles, per point.
    agent_acc = {l["agent_accept_latency"]["label"]: l["agent_accept_latency"]
                 for l in lines if "agent_accept_latency" in l}
    points, order = {}, []
    for s in storms:
        key = (s["kind"], s["units"], s["io_queues"])
        if key not in points:
            points[key] = []
            order.append(key)
        points[key].append(s)
    out, problems = [], []
    for key in order:
        runs = sorted(points[key], key=lambda s: s["time_to_all_live_s"])
        med = runs[(len(runs) - 1) // 2]
        t = med["trace"]
        p = {
            "kind": key[0], "units": key[1], "io_queues": key[2],
            "connections": med["connections"], "handshakes_per_storm": t["handshakes"],
            "storms": len(runs),
            "time_to_all_live_s": med["time_to_all_live_s"],
            "time_to_all_live_s_all": [r["time_to_all_live_s"] for r in runs],
            "latency_p50_ms": t["latency_p50_ms"], "latency_p99_ms": t["latency_p99_ms"],
            "latency_max_ms": t["latency_max_ms"],
            "accept_wait_p50_ms": t["accept_wait_p50_ms"],
            "accept_wait_p99_ms": t["accept_wait_p99_ms"],
            "agent_cpu_s": med["agent_cpu_s"],
            "handshakes_span_s": t["first_submit_to_last_complete_s"],
            "failed_handshakes": t["handshakes_failed"],
            "failed_by_status": t["failed_by_status"],
            "rejected_submits": t["submit_rejected"],
            "consumer_retries": med["consumer_retries"],
            "failed_handshakes_all": [r["trace"]["handshakes_failed"] for r in runs],
            "rejected_submits_all": [r["trace"]["submit_rejected"] for r in runs],
            "all_live": all(r["all_live"] for r in runs),
            "pending_max": med["pending_max"],
            # The agent's READY-to-ACCEPT-reply p99 within the storms
            # (its histogram read before and after each): the worst storm's.
            "agent_accept_p99_us": worst([r.get("agent_accept", {}).get("p99_us") for r in runs]),
            "agent_accept_p99_us_all": [r.get("agent_accept", {}).get("p99_us") for r in runs],
            "agent_accepts_per_storm": [r.get("agent_accept", {}).get("n") for r in runs],
            # Over the whole point, set-up (the first connections, the
            # first mounts) included, from the agent's start.
            "agent_accept_p50_us_point": agent_acc.get("%s %d" % (key[0], key[1]), {}).get("p50_us"),
            "agent_accept_p99_us_point": agent_acc.get("%s %d" % (key[0], key[1]), {}).get("p99_us"),
        }
        for r in runs:
            a = r.get("agent_accept", {})
            if a.get("n") is None:
                problems.append("%s: no ACCEPT latency window (%s)" %
                                (r["label"], a.get("error", "not read")))
        if not p["all_live"]:
            problems.append("%s %d: not every %s came back" %
                            (key[0], key[1], "controller" if key[0] == "nvme" else "mount"))
        out.append(p)
    wanted = {"full": 4, "smoke": 2}.get(profile, 1)
    for p in out:
        if p["rejected_submits"]:
            problems.append("%s %d: %d submissions refused" % (p["kind"], p["units"],
                                                             p["rejected_submits"]))
    if len(out) < wanted:
        problems.append("%d of %d points measured" % (len(out), wanted))
    guest = os.environ.get("BENCH_GUEST", "UML 6.12 upstream, 1 CPU")
    json.dump({"when": when, "host_cpus": int(cpus), "guest": guest, "seconds": int(secs),
               "profile": profile, "points": out, "problems": problems},
              open(dst, "w"), indent=1)
    print("guest: %s" % guest)
    print("%-5s %5s %3s %5s %5s %10s %8s %8s %9s %9s %7s %6s %7s %6s" % (
        "storm", "units", "ioq", "conns", "hs", "all live s", "p50 ms", "p99 ms", "accept99",
        "agent99", "agent s", "failed", "refused", "retry"))
    for p in out:
        a99 = p["agent_accept_p99_us"]
        print("%-5s %5d %3d %5d %5d %10.3f %8.2f %8.2f %9.2f %9s %7.2f %6d %7d %6d" % (
            p["kind"], p["units"], p["io_queues"], p["connections"], p["handshakes_per_storm"],
            p["time_to_all_live_s"], p["latency_p50_ms"] or 0, p["latency_p99_ms"] or 0,
            p["accept_wait_p99_ms"] or 0, "%.2f" % (a99 / 1000.0) if a99 is not None else "-",
            p["agent_cpu_s"], p["failed_handshakes"], p["rejected_submits"],
            p["consumer_retries"]))
    print("(the median of %s storms per point, by time until all live; pending bound %s;"
          " accept99: submit to ACCEPT in the kernel's tracepoints, ms; agent99: READY read to"
          " ACCEPT reply in the agent's own histogram within each storm, the worst storm's, ms;"
          " ioq 0: the kernel's default I/O queues)"
          % ("/".join(str(p["storms"]) for p in out), out[0]["pending_max"] if out else "?"))
    for pr in problems:
        print("storm: " + pr)
    sys.exit(1 if problems else 0)


main()
