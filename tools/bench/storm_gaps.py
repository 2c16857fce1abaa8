#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""storm_gaps.py TRACE...: what the agent's acceptor was doing when the
kernel refused a submission, from a storm's trace kept with
BENCH_TRACE_SCHED=1 (tools/bench/storm_lib.sh: the handshake tracepoints,
and sched_wakeup/sched_switch of the thread "tlsupd-accept").

For each handshake_submit_err: the requests waiting for an ACCEPT at that
moment (submitted, not yet ACCEPTed, as the trace's order says), the
submissions of the last millisecond and which threads made them, and the
acceptor: asleep or running, since when, and its last ACCEPT. Then, over
the whole trace: the acceptor's wake-up to first ACCEPT, and the spacing
of ACCEPTs within one wake-up (what one ACCEPT costs once it runs), and
the five longest waits from submission to ACCEPT: how many ACCEPTs of
other requests came in between (the queue ahead of it), and how long of
the wait the acceptor was asleep; and how long the acceptor, once woken,
waited for a CPU (sched_wakeup to sched_switch).

Prints text; exits 0."""
import re
import sys

from storm_trace import percentile

EVENT = re.compile(r"^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+(\d+\.\d+): (\w+): (.*)$")
REQ = re.compile(r"req=(\w+)")


def us(v):
    return "-" if v is None else "%.0f us" % (v * 1e6)


def analyse(path):
    pending = {}  # req -> submit time, in trace order
    recent = []  # (time, thread) of submissions
    running = False  # the acceptor
    since = None
    last_accept = None
    woke_at = None
    first_after_wake = []
    woken_at = None  # the acceptor's sched_wakeup, until it runs
    wake_to_run = []
    in_wake_spacing = []
    prev_accept_in_wake = None
    refusals = []
    waits = []  # (wait, submit time, accepts in between, asleep seconds)
    accepts_so_far = 0
    asleep_total = 0.0  # the acceptor's, up to the last switch
    asleep_since = None
    marks = {}  # req -> (accepts_so_far, asleep_total, asleep_since) at submit
    for line in open(path, errors="replace"):
        m = EVENT.match(line)
        if not m:
            continue
        comm, cpu, ts, event, rest = m.group(1).strip(), m.group(3), float(m.group(4)), m.group(5), m.group(6)
        r = REQ.search(rest)
        req = r.group(1) if r else None
        if event == "handshake_submit":
            pending[req] = ts
            marks[req] = (accepts_so_far, asleep_total, asleep_since)
            recent.append((ts, "%s/cpu%s" % (comm, cpu)))
        elif event == "handshake_submit_err":
            window = [c for t, c in recent if ts - t <= 0.001]
            refusals.append({
                "at": ts,
                "pending": sorted(ts - t for t in pending.values()),
                "submits_1ms": len(window),
                "by": sorted(set(window)),
                "acceptor": "running" if running else "asleep",
                "for": None if since is None else ts - since,
                "since_accept": None if last_accept is None else ts - last_accept,
            })
        elif event == "handshake_cmd_accept":
            submitted = pending.pop(req, None)
            if submitted is not None and req in marks:
                n0, slept0, since0 = marks.pop(req)
                # Asleep during the wait: what it slept by now, less what it
                # had slept by the submission (an open sleep counts from
                # its start or the submission, whichever is later).
                slept = asleep_total - slept0
                if since0 is not None:
                    slept -= submitted - since0
                waits.append((ts - submitted, submitted, accepts_so_far - n0, max(slept, 0.0)))
            accepts_so_far += 1
            last_accept = ts
            if woke_at is not None:
                first_after_wake.append(ts - woke_at)
                woke_at = None
            elif prev_accept_in_wake is not None:
                in_wake_spacing.append(ts - prev_accept_in_wake)
            prev_accept_in_wake = ts
        elif event == "sched_wakeup":
            if woken_at is None and not running:
                woken_at = ts
        elif event == "sched_switch":
            if "next_comm=tlsupd-accept" in rest:
                if woken_at is not None:
                    wake_to_run.append(ts - woken_at)
                    woken_at = None
                if asleep_since is not None:
                    asleep_total += ts - asleep_since
                    asleep_since = None
                running, since, woke_at = True, ts, ts
                prev_accept_in_wake = None
            elif "prev_comm=tlsupd-accept" in rest:
                asleep_since = ts
                running, since, woke_at = False, ts, None
        recent = [(t, c) for t, c in recent if ts - t <= 0.001]

    print("%s: %d refused submissions" % (path, len(refusals)))
    for f in refusals:
        print("  at %.6f: %d waiting for ACCEPT (oldest %s), %d submissions in the last ms by %s;"
              " acceptor %s for %s, last ACCEPT %s before" %
              (f["at"], len(f["pending"]), us(f["pending"][-1] if f["pending"] else None),
               f["submits_1ms"], ", ".join(f["by"]), f["acceptor"], us(f["for"]),
               us(f["since_accept"])))
    print("  acceptor: wake-up to first ACCEPT p50 %s p99 %s (%d); ACCEPT to ACCEPT within a"
          " wake-up p50 %s p99 %s (%d)" %
          (us(percentile(first_after_wake, 0.5)), us(percentile(first_after_wake, 0.99)),
           len(first_after_wake), us(percentile(in_wake_spacing, 0.5)),
           us(percentile(in_wake_spacing, 0.99)), len(in_wake_spacing)))
    print("  acceptor: woken to running p50 %s p99 %s max %s (%d)" %
          (us(percentile(wake_to_run, 0.5)), us(percentile(wake_to_run, 0.99)),
           us(max(wake_to_run) if wake_to_run else None), len(wake_to_run)))
    for wait, at, ahead, slept in sorted(waits, reverse=True)[:5]:
        print("  wait %s from %.6f: %d other ACCEPTs in between, the acceptor asleep %s of it" %
              (us(wait), at, ahead - 0, us(slept)))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    for path in sys.argv[1:]:
        analyse(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
