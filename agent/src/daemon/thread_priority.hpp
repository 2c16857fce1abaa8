// SPDX-License-Identifier: GPL-2.0
//
// Scheduling of the agent's threads. The acceptor runs real-time
// (SCHED_FIFO, the lowest priority): a READY then preempts whatever runs
// -- a worker's handshake, the consumers' own kernel threads -- and the
// request leaves the kernel's queue before upstream's pending bound (3 to
// 50 by RAM) refuses the next submission. It asks for it itself: the unit's
// LimitRTPRIO=1 allows that without CAP_SYS_NICE (root outside the unit
// has it anyway). Every other thread runs SCHED_OTHER, and leaves a
// real-time policy it inherited (a service started with one, e.g. a
// unit's CPUSchedulingPolicy=).
#pragma once

#include "result.hpp"

namespace tlsup {

// The real-time priority the acceptor asks for: the lowest.
constexpr int kAcceptorRtPriority = 1;

// Whether the calling thread runs under SCHED_FIFO or SCHED_RR.
bool thread_is_realtime();

// Makes the calling thread SCHED_FIFO at kAcceptorRtPriority (reset on
// fork), unless it is real-time already. An error says why not (EPERM
// without CAP_SYS_NICE or RLIMIT_RTPRIO, under RestrictRealtime=yes, or in
// a cgroup without real-time runtime).
Result<void> enter_realtime();

// After the acceptor entered real-time: RLIMIT_RTPRIO (the unit's
// LimitRTPRIO=1) down to 0, soft and hard, so that no other thread of the
// process -- a worker that parses peer bytes -- can ever make itself
// real-time; lowering a limit needs no privilege. The calling thread keeps
// its policy.
Result<void> close_realtime_to_others();

// Moves the calling thread from an inherited real-time policy to
// SCHED_OTHER, its nice value kept; nothing when it is not real-time. A
// thread may always lower its own policy.
Result<void> leave_realtime();

} // namespace tlsup
