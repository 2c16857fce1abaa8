#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""report: turns bench.jsonl into results.json and a table; exits 1 if any
handshake failed, a request was lost, or a point is missing its baseline.
A point measured several times is reported by its medians."""
import json
import os
import statistics
import sys


def median_run(runs):
    """The run with the median rate (its latencies go with it)."""
    runs = sorted(runs, key=lambda r: r["hs_per_s"])
    return dict(runs[(len(runs) - 1) // 2], runs=len(runs),
                hs_per_s_all=[r["hs_per_s"] for r in runs],
                hs_per_s=round(statistics.median(r["hs_per_s"] for r in runs), 1))


KINDS = ("full", "inproc", "scale", "agent")


def read_objects(src):
    """The guest's objects, one a line: {"full"|"inproc"|"scale"|"agent": ...}.
    Anything else on a line (a carriage return, a kernel message the
    console or a 9p write interleaved) is not ours: it is skipped, and
    reported. A line that claims to be ours and does not parse stops the
    report with its number and text."""
    objs = []
    try:
        f = open(src, errors="replace")
    except OSError as e:
        sys.exit("report: no benchmark lines: %s" % e)
    with f:
        for n, raw in enumerate(f, 1):
            line = raw.strip().strip("\r")
            if not line:
                continue
            if not any(line.startswith('{"%s":' % k) for k in KINDS):
                print("report: %s:%d: not a benchmark line, skipped: %r" % (src, n, line[:120]),
                      file=sys.stderr)
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit("report: %s:%d: malformed benchmark line (%s at column %d): %r"
                         % (src, n, e.msg, e.colno, line[:200]))
            if not isinstance(obj, dict) or len(obj) != 1 or not isinstance(
                    next(iter(obj.values())), dict):
                sys.exit("report: %s:%d: not one {kind: {...}} object: %r" % (src, n, line[:200]))
            objs.append(obj)
    return objs


def main():
    src, dst, when, cpus, secs = sys.argv[1:6]
    points, scale, agent, inproc = [], None, None, {}
    problems = []
    for obj in read_objects(src):
        if "full" in obj:
            points.append({"full": obj["full"]})
        elif "inproc" in obj:
            p = obj["inproc"]
            if not points:
                sys.exit("report: %s: an in-process baseline before any full-path point" % src)
            points[-1]["inproc_" + p["transport"]] = p
        elif "scale" in obj:
            scale = obj["scale"]
        elif "agent" in obj:
            agent = obj["agent"]
    # Repetitions of a point: fold into one, by medians.
    folded, order = {}, []
    for p in points:
        f = p["full"]
        key = (f["auth"], f["concurrency"], f["count"])
        if key not in folded:
            folded[key] = {"full": [], "inproc_mem": [], "inproc_tcp": []}
            order.append(key)
        for k in ("full", "inproc_mem", "inproc_tcp"):
            if k in p:
                folded[key][k].append(p[k])
    points = []
    for key in order:
        runs = folded[key]
        failed = sum(r["failed"] for r in runs["full"])
        point = {k: median_run(v) for k, v in runs.items() if v}
        point["full"]["failed"] = failed
        point["full"]["errors"] = {e: n for r in runs["full"] for e, n in r.get("errors", {}).items()}
        for k in ("inproc_mem", "inproc_tcp"):
            if k in point:
                point[k]["failed"] = sum(r["failed"] for r in runs[k])
        points.append(point)
    for p in points:
        f = p["full"]
        if f["failed"] or f["ok"] == 0:
            problems.append("%s c=%d: %d of %d failed %s" % (f["auth"], f["concurrency"], f["failed"],
                                                             f["count"], f.get("errors")))
        for tr in ("mem", "tcp"):
            b = p.get("inproc_" + tr)
            if not b or b["failed"] or not b["hs_per_s"]:
                problems.append("%s c=%d: no in-process %s baseline" % (f["auth"], f["concurrency"], tr))
                continue
            p["ratio_" + tr] = round(f["hs_per_s"] / b["hs_per_s"], 3)
    if scale and scale["lost"]:
        problems.append("scale: %d of %d requests lost" % (scale["lost"], scale["requests"]))
    guest = os.environ.get("BENCH_GUEST", "UML, 1 vCPU")
    doc = {"when": when, "host_cpus": int(cpus), "guest": guest, "wall_s": int(secs),
           "points": points, "scale": scale, "agent": agent, "problems": problems}
    json.dump(doc, open(dst, "w"), indent=2)

    print("guest: %s" % guest)
    print("%-5s %5s %6s | %9s %8s %8s %8s %8s | %9s %9s | %6s %6s" % (
        "auth", "conc", "count", "full hs/s", "p50 ms", "p90 ms", "p99 ms", "agent s",
        "mem hs/s", "tcp hs/s", "/mem", "/tcp"))
    for p in points:
        f = p["full"]
        m, t = p.get("inproc_mem", {}), p.get("inproc_tcp", {})
        print("%-5s %5d %6d | %9.1f %8.1f %8.1f %8.1f %8.2f | %9.1f %9.1f | %6.2f %6.2f" % (
            f["auth"], f["concurrency"], f["count"], f["hs_per_s"], f["p50_ms"], f["p90_ms"],
            f["p99_ms"], f["agent_cpu_s"], m.get("hs_per_s", 0), t.get("hs_per_s", 0),
            p.get("ratio_mem", 0), p.get("ratio_tcp", 0)))
    if scale:
        print("scale: %d requests, %d ok, %d lost in %.1f s; peak %d in flight; agent peak RSS %.1f MiB;"
              " kernel slab +%.1f MiB (%d bytes per in-flight connection, whole path); tlsup request %d bytes"
              % (scale["requests"], scale["ok"], scale["lost"], scale["elapsed_s"], scale["peak_inflight"],
                 scale["agent_peak_rss_kib"] / 1024.0, scale["slab_growth_kib"] / 1024.0,
                 scale["slab_per_inflight_bytes"], scale["request_bytes"]))
    if agent:
        print("agent: peak RSS %.1f MiB, CPU %.1f s" % (agent["peak_rss_kib"] / 1024.0, agent["cpu_s"]))
    print("results: %s" % dst)
    for pr in problems:
        print("PROBLEM: " + pr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
