// SPDX-License-Identifier: GPL-2.0
#include "thread_priority.hpp"

#include <cerrno>
#include <cstring>
#include <sched.h>
#include <sys/resource.h>

namespace tlsup {

bool thread_is_realtime() {
	// Linux: the policy of the calling thread, not of the whole process,
	// with SCHED_RESET_ON_FORK or'ed in when set.
	int policy = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
	return policy == SCHED_FIFO || policy == SCHED_RR;
}

Result<void> enter_realtime() {
	if (thread_is_realtime())
		return {};
	sched_param sp{};
	sp.sched_priority = kAcceptorRtPriority;
	// Reset on fork: nothing the thread might start inherits the policy.
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0)
		return make_error(errno, "sched_setscheduler(SCHED_FIFO, %d): %s",
		                  kAcceptorRtPriority, strerror(errno));
	return {};
}

Result<void> close_realtime_to_others() {
	rlimit none{0, 0};
	if (setrlimit(RLIMIT_RTPRIO, &none) < 0)
		return make_error(errno, "setrlimit(RLIMIT_RTPRIO, 0): %s", strerror(errno));
	return {};
}

Result<void> leave_realtime() {
	if (!thread_is_realtime())
		return {};
	sched_param sp{};
	if (sched_setscheduler(0, SCHED_OTHER, &sp) < 0)
		return make_error(errno, "sched_setscheduler(SCHED_OTHER): %s", strerror(errno));
	return {};
}

} // namespace tlsup
