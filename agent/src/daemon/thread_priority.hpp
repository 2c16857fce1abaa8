// SPDX-License-Identifier: GPL-2.0
//
// Scheduling of the agent's threads. The acceptor runs real-time
// (SCHED_FIFO, the lowest priority): a READY then preempts whatever runs
// -- a worker's handshake, the consumers' own kernel threads -- and the
// request leaves the kernel's queue before upstream's pending bound (3 to
// 50 by RAM) refuses the next submission. The unit gives the service that
// policy (CPUSchedulingPolicy=fifo) and keeps RestrictRealtime=yes, so the
// agent needs no CAP_SYS_NICE and can never raise a priority itself: every
// other thread leaves the policy it inherited. Run outside the unit as root,
// the acceptor asks for it itself.
#pragma once

#include "result.hpp"

namespace tlsup {

// The real-time priority the acceptor asks for: the lowest.
constexpr int kAcceptorRtPriority = 1;

// Whether the calling thread runs under SCHED_FIFO or SCHED_RR.
bool thread_is_realtime();

// Makes the calling thread SCHED_FIFO at kAcceptorRtPriority, unless it is
// real-time already (the policy the unit gave the service). An error says
// why not (EPERM without CAP_SYS_NICE or under RestrictRealtime=yes).
Result<void> enter_realtime();

// Moves the calling thread from an inherited real-time policy to
// SCHED_OTHER, its nice value kept; nothing when it is not real-time. A
// thread may always lower its own policy.
Result<void> leave_realtime();

} // namespace tlsup
