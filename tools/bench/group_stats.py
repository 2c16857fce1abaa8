#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""group_stats: one JSON line from a tlsup_testmod group's results.

    group_stats.py RESULTS GROUP AUTH CONCURRENCY AGENT_CPU_S SERVER_JSON
"""
import json
import sys


def pct(sorted_values, q):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    path, group, auth, conc, agent_cpu, server = sys.argv[1:7]
    elapsed = None
    lat, ok, bad = [], 0, 0
    errors = {}
    for line in open(path):
        fields = line.split()
        if not fields or fields[0] != "group=" + group:
            continue
        kv = dict(f.split("=", 1) for f in fields if "=" in f)
        if fields[1] == "summary":
            elapsed = int(kv["elapsed_us"]) / 1e6
            continue
        if kv.get("status") == "0" and kv.get("calls") == "1":
            ok += 1
            lat.append(int(kv["hs_us"]) / 1000.0)
        else:
            bad += 1
            key = "status=%s %s" % (kv.get("status"), line.split(" error=", 1)[-1].strip())
            errors[key] = errors.get(key, 0) + 1
    lat.sort()
    elapsed = elapsed or 0.0
    out = {
        "full": {
            "auth": auth, "count": ok + bad, "concurrency": int(conc), "ok": ok, "failed": bad,
            "elapsed_s": round(elapsed, 3),
            "hs_per_s": round(ok / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(pct(lat, 0.50), 2), "p90_ms": round(pct(lat, 0.90), 2),
            "p99_ms": round(pct(lat, 0.99), 2),
            "agent_cpu_s": float(agent_cpu),
            "server": json.loads(server) if server.startswith("{") else None,
            "errors": errors,
        }
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
