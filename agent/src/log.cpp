// SPDX-License-Identifier: GPL-2.0
#include "log.hpp"

#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <unistd.h>

namespace tlsup {

namespace {

constexpr const char *kLevelNames[] = {"emerg",   "alert",  "crit", "err",
                                       "warning", "notice", "info", "debug"};

void write_stderr(int priority, std::string_view line) {
	std::string out;
	out.reserve(line.size() + 8);
	out += '<';
	out += static_cast<char>('0' + priority);
	out += '>';
	out += line;
	out += '\n';
	const char *p = out.data();
	size_t left = out.size();
	while (left > 0) {
		ssize_t n = ::write(STDERR_FILENO, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		left -= static_cast<size_t>(n);
	}
}

} // namespace

std::optional<int> parse_log_level(std::string_view text) {
	for (int i = 0; i < 8; i++)
		if (text == kLevelNames[i])
			return i;
	if (text == "warn")
		return kLogWarning;
	if (text == "error")
		return kLogErr;
	int v = -1;
	auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
	if (ec != std::errc() || ptr != text.data() + text.size() || v < 0 || v > 7)
		return std::nullopt;
	return v;
}

const char *log_level_name(int level) {
	return level >= 0 && level < 8 ? kLevelNames[level] : "?";
}

Log::Log() : sink_(write_stderr) {}

Log::Log(Sink sink) : sink_(std::move(sink)) {}

void Log::print(int priority, const char *fmt, ...) const {
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len =
	        static_cast<size_t>(n) < sizeof(buf) ? static_cast<size_t>(n) : sizeof(buf) - 1;
	sink_(priority, std::string_view(buf, len));
}

} // namespace tlsup
