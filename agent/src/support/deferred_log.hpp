// SPDX-License-Identifier: GPL-2.0
//
// A Log for a thread that must never wait for the journal: the real-time
// acceptor. Writing a line can block (sd_journal_sendv's datagram waits
// while journald's queue is full, as it may be in a storm where every
// worker logs each handshake, or in a flood of refusals), and while the
// acceptor waits the kernel's queue of requests fills. Each line is copied
// into a bounded queue instead and written to the target Log by whichever
// thread POST runs its task on (the agent's main loop). Past kMaxQueued
// lines waiting, lines are dropped and counted; the next write says how
// many. Whatever is queued is written when the DeferredLog goes.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "log.hpp"
#include "pi_mutex.hpp"

namespace tlsup {

class DeferredLog {
public:
	using Post = std::function<void(std::function<void()>)>;
	static constexpr size_t kMaxQueued = 1024;

	// TARGET and whatever POST posts to outlive this.
	DeferredLog(const Log &target, Post post);
	~DeferredLog();
	DeferredLog(const DeferredLog &) = delete;
	DeferredLog &operator=(const DeferredLog &) = delete;

	// The Log to hand the thread; its level is set with set_level().
	const Log &log() const { return log_; }
	void set_level(int level) { log_.set_level(level); }
	uint64_t dropped() const;
	// From now on lines go straight to the target, and what is queued is
	// written: for when nothing real-time is left and POST's loop may go.
	void write_directly();

private:
	struct Line {
		int priority;
		std::string message;
		std::optional<LogFields> fields;
	};
	void enqueue(const LogRecord &record);
	void drain();

	const Log &target_;
	Post post_;
	Log log_;
	mutable PiMutex mu_;
	std::deque<Line> queue_; // under mu_
	uint64_t dropped_ = 0;   // under mu_: since the last drain
	uint64_t dropped_total_ = 0;
	bool posted_ = false; // under mu_: a drain is on its way
	bool direct_ = false; // under mu_: write_directly() was called
};

} // namespace tlsup
