#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""accept_window BEFORE AFTER: the agent's READY-to-ACCEPT-reply latencies
between two readings of its histogram (tlsupctl status --raw, the
"accept_latency_us.le.UPPER COUNT" lines), as one JSON object: how many
ACCEPTs, p50 and p99 the agent's way (the upper bound of the bucket that
holds the rank) and the highest bucket. A file that is missing or empty
reads as an empty histogram."""
import json
import math
import sys


def read(path):
    out = {}
    try:
        for line in open(path):
            k, v = line.split()
            out[int(k.rsplit(".", 1)[1])] = int(v)
    except FileNotFoundError:
        pass
    return out


def window(before, after):
    d = sorted((u, after[u] - before.get(u, 0)) for u in after
               if after[u] - before.get(u, 0) > 0)
    n = sum(c for _, c in d)

    def q(p):
        if not n:
            return None
        rank, seen = max(1, math.ceil(p * n)), 0
        for u, c in d:
            seen += c
            if seen >= rank:
                return u
    return {"n": n, "p50_us": q(0.50), "p99_us": q(0.99), "max_us": d[-1][0] if d else None}


if __name__ == "__main__":
    print(json.dumps(window(read(sys.argv[1]), read(sys.argv[2]))))
