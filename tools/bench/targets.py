#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""targets: issue 17's targets against what the benchmarks of this run wrote
into build/bench (tools/bench/all.sh calls it last). One line per target
and case: the figure, the bound, "met", "NOT MET (by ...)" or "not measured"
(naming the file that was missing). Reads only what exists; measures
nothing itself.

  tools/bench/targets.py [BENCH_DIR]
"""
import glob
import json
import os
import re
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bench")
rows = []


def row(target, case, value, bound, fmt, higher_is_better=False, missing=None):
    if value is None:
        rows.append((target, case, "-", "not measured" + (" (%s)" % missing if missing else "")))
        return
    ok = value >= bound if higher_is_better else value <= bound
    if ok:
        verdict = "met"
    elif higher_is_better:
        verdict = "NOT MET (by %s)" % (fmt % (bound - value))
    else:
        verdict = "NOT MET (by %s)" % (fmt % (value - bound))
    rows.append((target, case, fmt % value, verdict))


def jsonl(path, key):
    try:
        return [json.loads(l)[key] for l in open(path) if l.startswith("{") and '"%s"' % key in l]
    except OSError:
        return []


# 1-3: the host (tools/bench/host.sh full).
host = os.path.join(out, "host-full.jsonl")
costs = jsonl(host, "agent_cost")
if not costs:
    for t in ("agent CPU <= 1.15x bare GnuTLS", "syscalls/hs <= 16 (host)", "keyctl/hs <= 2",
              "workers woken = 1"):
        row(t, "host", None, 0, "%s", missing="host-full.jsonl")
for c in costs:
    case = "%s, %d worker%s" % (c["auth"], c["workers"], "s" if c["workers"] > 1 else "")
    row("agent CPU <= 1.15x bare GnuTLS", case, c.get("ratio"), 1.15, "%.3f")
for c in costs:
    case = "%s, %d worker%s" % (c["auth"], c["workers"], "s" if c["workers"] > 1 else "")
    row("  the same less the fake kernel's work", case, c.get("ratio_less_fake"), 1.15, "%.3f")
for c in costs:
    case = "%s, %d worker%s" % (c["auth"], c["workers"], "s" if c["workers"] > 1 else "")
    row("syscalls/hs <= 16 (host)", case, c.get("syscalls"), 16, "%.2f")
for c in costs:
    case = "%s, %d worker%s" % (c["auth"], c["workers"], "s" if c["workers"] > 1 else "")
    by = c.get("by_name", {})
    row("keyctl/hs <= 2", case, by.get("keyctl", 0) + by.get("add_key", 0), 2, "%.2f")
for c in costs:
    case = "%s, %d worker%s" % (c["auth"], c["workers"], "s" if c["workers"] > 1 else "")
    row("workers woken = 1", case, c.get("woken_max"), 1, "%d")

# The agent's own strace count in stock 6.1 (tools/bench/profile.sh ... strace).
straces = sorted(glob.glob(os.path.join(out, "all-strace-*.log")))
pat = re.compile(r"^strace, (\w+), \d+ handshakes at concurrency (\d+), (\S+) \((\S+) vCPUs\): "
                 r"([0-9.]+) system calls")
found = False
for f in straces:
    for l in open(f, errors="replace"):
        m = pat.match(l)
        if m:
            found = True
            row("syscalls/hs <= 16 (strace, guest)", "%s, c=%s, %s" % (m.group(1), m.group(2),
                                                                       m.group(3)),
                float(m.group(5)), 16, "%.2f")
if not found:
    row("syscalls/hs <= 16 (strace, guest)", "stock-6.1", None, 0, "%s",
        missing="all-strace-*.log")

# 4: the full path against in-process memory on stock 6.1.
for n in ("1cpu", "2cpu"):
    path = os.path.join(out, "results-ratio-%s.json" % n)
    try:
        doc = json.load(open(path))
    except (OSError, ValueError):
        row("full path >= 0.85x in-process mem", "stock 6.1, %s" % n, None, 0, "%s",
            missing=os.path.basename(path))
        continue
    for p in doc["points"]:
        f = p["full"]
        row("full path >= 0.85x in-process mem",
            "%s c=%d, stock-6.1 %s" % (f["auth"], f["concurrency"], n),
            p.get("ratio_mem"), 0.85, "%.2f", higher_is_better=True)

# 5: storms on stock 6.12 (tools/bench/storm.sh full), and the host burst.
storm = os.path.join(out, "storm-full-stock-6.12.json")
try:
    doc = json.load(open(storm))
    for p in doc["points"]:
        case = "%s %d" % (p["kind"], p["units"])
        row("refused submissions = 0 (storm)", case, p["rejected_submits"], 0, "%d")
        a99 = p.get("agent_accept_p99_us")
        row("ACCEPT p99 < 5 ms (storm)", case, a99 / 1000.0 if a99 is not None else None, 5,
            "%.2f", missing="no agent histogram")
except (OSError, ValueError):
    row("refused submissions = 0 (storm)", "stock 6.12", None, 0, "%s",
        missing="storm-full-stock-6.12.json")
for b in jsonl(host, "agent_burst"):
    case = "host burst %d %s, bound %d" % (b["requests"], b["auth"], b["pending_bound"])
    row("refused submissions = 0 (burst)", case, b["refused"], 0, "%d")
    row("ACCEPT p99 < 5 ms (burst)", case, b["accept_p99_us"] / 1000.0, 5, "%.2f")

w = [max(len(r[i]) for r in rows + [("target", "case", "figure", "")]) for i in range(3)]
print("%-*s  %-*s  %*s  %s" % (w[0], "target (issue 17)", w[1], "case", w[2], "figure", "verdict"))
for r in rows:
    print("%-*s  %-*s  %*s  %s" % (w[0], r[0], w[1], r[1], w[2], r[2], r[3]))
