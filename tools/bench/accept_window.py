#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""accept_window BEFORE AFTER: the agent's READY-to-ACCEPT-reply latencies
between two readings of its histogram (tlsupctl status --raw, the
"accept_latency_us.le.UPPER COUNT" lines: each bucket's own count, by its
upper bound), as one JSON object: how many ACCEPTs, p50 and p99 the agent's
way (the upper bound of the bucket that holds the rank) and the highest
bucket.

A reading that failed (a file that is missing, or says "unavailable") gives
no window: {"n": null, "error": ...}. A bucket that went down, or one the
second reading lacks, means another agent answered the second time (a
restart): the second reading alone is the window, "restarted": true."""
import json
import math
import sys


def read(path):
    out = {}
    try:
        for line in open(path):
            if line.strip() == "unavailable":
                return None
            k, v = line.split()
            out[int(k.rsplit(".", 1)[1])] = int(v)
    except (OSError, ValueError):
        return None
    return out


def window(before, after):
    if before is None or after is None:
        return {"n": None, "p50_us": None, "p99_us": None, "max_us": None,
                "error": "the %s reading failed" % ("first" if before is None else "second")}
    restarted = any(after.get(u, 0) < c for u, c in before.items())
    base = {} if restarted else before
    d = sorted((u, after[u] - base.get(u, 0)) for u in after if after[u] - base.get(u, 0) > 0)
    n = sum(c for _, c in d)

    def q(p):
        if not n:
            return None
        rank, seen = max(1, math.ceil(p * n)), 0
        for u, c in d:
            seen += c
            if seen >= rank:
                return u
    out = {"n": n, "p50_us": q(0.50), "p99_us": q(0.99), "max_us": d[-1][0] if d else None}
    if restarted:
        out["restarted"] = True
    return out


if __name__ == "__main__":
    print(json.dumps(window(read(sys.argv[1]), read(sys.argv[2]))))
