// SPDX-License-Identifier: GPL-2.0
//
// A mutex with priority inheritance (PTHREAD_PRIO_INHERIT): while a thread
// of higher priority waits for it, its holder runs at that priority. Every
// lock the real-time acceptor shares with the other threads is one:
// otherwise a worker preempted by ordinary threads (a storm's kernel
// threads) while it holds the lock keeps the acceptor waiting behind them,
// and requests wait in the kernel's queue (priority inversion). A drop-in
// for the standard mutex where no condition variable waits on it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>

namespace tlsup {

class PiMutex {
public:
	PiMutex() {
		pthread_mutexattr_t attr;
		pthread_mutexattr_init(&attr);
		pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
		check(pthread_mutex_init(&m_, &attr), "init");
		pthread_mutexattr_destroy(&attr);
	}
	~PiMutex() { pthread_mutex_destroy(&m_); }
	PiMutex(const PiMutex &) = delete;
	PiMutex &operator=(const PiMutex &) = delete;

	void lock() { check(pthread_mutex_lock(&m_), "lock"); }
	bool try_lock() { return pthread_mutex_trylock(&m_) == 0; }
	void unlock() { check(pthread_mutex_unlock(&m_), "unlock"); }

private:
	// A default-type mutex fails only when misused (or the kernel has no
	// PI futexes): nothing after it could be trusted.
	static void check(int err, const char *what) {
		if (err) {
			std::fprintf(stderr,
			             "tlsupd: pthread_mutex_%s (priority inheritance): %s\n", what,
			             std::strerror(err));
			std::abort();
		}
	}
	pthread_mutex_t m_;
};

} // namespace tlsup
