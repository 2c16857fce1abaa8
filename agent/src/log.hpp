// SPDX-License-Identifier: GPL-2.0
//
// Logging in journald's stream format: every line starts with "<N>", N the
// syslog priority. One write(2) per line, so threads never interleave.
// Messages name a handshake by its fd and say why it failed; they never
// carry key material (keys, PSKs, private keys, session secrets).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tlsup {

enum LogPriority : int {
	kLogErr = 3,
	kLogWarning = 4,
	kLogNotice = 5,
	kLogInfo = 6,
	kLogDebug = 7,
};

// "err", "warning", "notice", "info", "debug" or a number 0..7.
std::optional<int> parse_log_level(std::string_view text);
const char *log_level_name(int level);

class Log {
public:
	// Receives one formatted line without the priority prefix.
	using Sink = std::function<void(int priority, std::string_view line)>;

	// Default sink: stderr, "<N>" prefixed.
	Log();
	explicit Log(Sink sink);

	void set_level(int level) { level_.store(level, std::memory_order_relaxed); }
	int level() const { return level_.load(std::memory_order_relaxed); }
	bool enabled(int priority) const { return priority <= level(); }

	[[gnu::format(printf, 3, 4)]] void print(int priority, const char *fmt, ...) const;

private:
	Sink sink_;
	std::atomic<int> level_{kLogInfo};
};

#define TLSUP_LOG(log, prio, ...)                                                                  \
	do {                                                                                       \
		if ((log).enabled(prio))                                                           \
			(log).print(prio, __VA_ARGS__);                                            \
	} while (0)
#define LOG_ERR(log, ...) TLSUP_LOG(log, ::tlsup::kLogErr, __VA_ARGS__)
#define LOG_WARN(log, ...) TLSUP_LOG(log, ::tlsup::kLogWarning, __VA_ARGS__)
#define LOG_NOTICE(log, ...) TLSUP_LOG(log, ::tlsup::kLogNotice, __VA_ARGS__)
#define LOG_INFO(log, ...) TLSUP_LOG(log, ::tlsup::kLogInfo, __VA_ARGS__)
#define LOG_DEBUG(log, ...) TLSUP_LOG(log, ::tlsup::kLogDebug, __VA_ARGS__)

} // namespace tlsup
