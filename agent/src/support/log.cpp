// SPDX-License-Identifier: GPL-2.0
#include "log.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

namespace tlsup {

namespace {

constexpr const char *kLevelNames[] = {"emerg",   "alert",  "crit", "err",
                                       "warning", "notice", "info", "debug"};

void write_all(int fd, std::string_view s) {
	const char *p = s.data();
	size_t left = s.size();
	while (left > 0) {
		ssize_t n = ::write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		left -= static_cast<size_t>(n);
	}
}

void write_stderr_line(const LogRecord &r) {
	std::string out;
	out.reserve(r.message.size() + 8);
	out += '<';
	out += static_cast<char>('0' + r.priority);
	out += '>';
	out += r.message;
	out += '\n';
	write_all(STDERR_FILENO, out);
}

void write_journal(const LogRecord &r) {
	std::vector<std::string> fields = journal_fields(r);
	std::vector<iovec> iov;
	iov.reserve(fields.size());
	for (auto &f : fields)
		iov.push_back({f.data(), f.size()});
	// journald may be gone (stopped, restarting): the stream still is.
	if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) < 0)
		write_stderr_line(r);
}

void append_escaped_byte(std::string &out, unsigned char c) {
	static constexpr char hex[] = "0123456789abcdef";
	out += "\\x";
	out += hex[c >> 4];
	out += hex[c & 15];
}

// Length of the well-formed UTF-8 sequence at S (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0. Sets *CP to its code point.
size_t utf8_sequence(std::string_view s, uint32_t *cp) {
	auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
	auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xbf) {
		return i < s.size() && b(i) >= lo && b(i) <= hi;
	};
	unsigned char c = b(0);
	if (c >= 0xc2 && c <= 0xdf && cont(1)) {
		*cp = (c & 0x1fu) << 6 | (b(1) & 0x3fu);
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		if (cont(1, lo, hi) && cont(2)) {
			*cp = (c & 0x0fu) << 12 | (b(1) & 0x3fu) << 6 | (b(2) & 0x3fu);
			return 3;
		}
		return 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		if (cont(1, lo, hi) && cont(2) && cont(3)) {
			*cp = (c & 0x07u) << 18 | (b(1) & 0x3fu) << 12 | (b(2) & 0x3fu) << 6 |
			      (b(3) & 0x3fu);
			return 4;
		}
	}
	return 0;
}

bool misleading_code_point(uint32_t cp) {
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

std::string errno_name(int status) {
	if (status == 0)
		return "0";
	if (const char *n = strerrorname_np(status))
		return n;
	return std::to_string(status);
}

} // namespace

std::string escape_log_text(std::string_view text) {
	std::string out;
	out.reserve(text.size());
	size_t i = 0;
	while (i < text.size()) {
		unsigned char c = static_cast<unsigned char>(text[i]);
		if (c == '\\') {
			out += "\\\\";
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			append_escaped_byte(out, c);
			i++;
		} else if (c < 0x80) {
			out += static_cast<char>(c);
			i++;
		} else {
			uint32_t cp = 0;
			size_t n = utf8_sequence(text.substr(i), &cp);
			if (n == 0) {
				append_escaped_byte(out, c);
				i++;
			} else if (misleading_code_point(cp)) {
				for (size_t j = 0; j < n; j++)
					append_escaped_byte(
					        out, static_cast<unsigned char>(text[i + j]));
				i += n;
			} else {
				out.append(text.substr(i, n));
				i += n;
			}
		}
	}
	return out;
}

std::vector<std::string> journal_fields(const LogRecord &r) {
	std::vector<std::string> out;
	out.push_back("MESSAGE=" + std::string(r.message));
	out.push_back("PRIORITY=" + std::to_string(r.priority));
	out.push_back("SYSLOG_IDENTIFIER=tlsupd");
	if (!r.fields)
		return out;
	const LogFields &f = *r.fields;
	if (!f.request.empty())
		out.push_back("TLSUP_REQUEST=" + escape_log_text(f.request));
	if (f.status)
		out.push_back("TLSUP_STATUS=" + errno_name(*f.status));
	if (!f.peer.empty())
		out.push_back("TLSUP_PEER=" + escape_log_text(f.peer));
	if (!f.auth.empty())
		out.push_back("TLSUP_AUTH=" + escape_log_text(f.auth));
	if (f.latency_us)
		out.push_back("TLSUP_LATENCY_US=" + std::to_string(*f.latency_us));
	return out;
}

bool stderr_is_journal() {
	const char *e = std::getenv("JOURNAL_STREAM");
	if (!e)
		return false;
	unsigned long long dev = 0, ino = 0;
	char tail = 0;
	if (std::sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return false;
	struct stat st;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return static_cast<unsigned long long>(st.st_dev) == dev &&
	       static_cast<unsigned long long>(st.st_ino) == ino;
}

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

Log::Log() : native_(stderr_is_journal()) {
	sink_ = native_ ? Sink(write_journal) : Sink(write_stderr_line);
}

Log::Log(Sink sink) : sink_(std::move(sink)) {}

Log::Log(LineSink sink)
    : sink_([s = std::move(sink)](const LogRecord &r) { s(r.priority, r.message); }) {}

std::string redact_key_url(std::string_view url) {
	size_t q = url.find('?');
	std::string out(url.substr(0, q));
	if (q != std::string_view::npos)
		out += "?<redacted>";
	return redact_secrets(out); // a pin-value in the path, where it does not belong
}

namespace {

bool url_end(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\'' || c == '"' ||
	       c == ')' || c == ']' || c == '>' || c == ',';
}

// Where a secret ends: whitespace, a control character, the end of the
// text. Not at url_end(): RFC 7512 lets a query value (a PIN) hold ) , ]
// ' ; = and more, and an administrator may not have percent-encoded the
// rest. What follows a secret on its line may go with it.
bool secret_end(char c) {
	auto u = static_cast<unsigned char>(c);
	return u <= 0x20 || u == 0x7f;
}

bool starts_with_nocase(std::string_view text, size_t at, std::string_view word) {
	if (text.size() - at < word.size())
		return false;
	for (size_t i = 0; i < word.size(); i++)
		if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i])
			return false;
	return true;
}

} // namespace

std::string redact_secrets(std::string_view text) {
	static constexpr std::string_view kSchemes[] = {"pkcs11:", "tpmkey:"};
	static constexpr std::string_view kPin = "pin-value=";
	static constexpr std::string_view kRedacted = "<redacted>";
	// Text redacted already (an error's reason, then its log line) stays
	// as it is.
	auto redacted_at = [&](size_t at) {
		return text.substr(at, kRedacted.size()) == kRedacted;
	};
	std::string out;
	out.reserve(text.size());
	size_t i = 0;
	bool in_url = false;
	while (i < text.size()) {
		char c = text[i];
		if (!in_url) {
			for (auto scheme : kSchemes)
				if (starts_with_nocase(text, i, scheme)) {
					in_url = true;
					break;
				}
		} else if (url_end(c)) {
			in_url = false;
		}
		if (in_url && c == '?') {
			out += '?';
			out += kRedacted;
			i = redacted_at(i + 1) ? i + 1 + kRedacted.size() : i + 1;
			while (i < text.size() && !secret_end(text[i]))
				i++;
			in_url = false;
			continue;
		}
		if (starts_with_nocase(text, i, kPin)) {
			out += text.substr(i, kPin.size());
			out += kRedacted;
			i += kPin.size();
			if (redacted_at(i))
				i += kRedacted.size();
			while (i < text.size() && !secret_end(text[i]))
				i++;
			continue;
		}
		out += c;
		i++;
	}
	return out;
}

void Log::emit(int priority, const LogFields *fields, const char *fmt, va_list ap) const {
	char buf[kMaxMessage + 1];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	bool cut = static_cast<size_t>(n) >= sizeof(buf);
	std::string message = escape_log_text(
	        redact_secrets(std::string_view(buf, cut ? kMaxMessage : static_cast<size_t>(n))));
	explicit_bzero(buf, sizeof(buf));
	if (cut)
		message += " [truncated]";
	if (priority < 0)
		priority = 0;
	if (priority > 7)
		priority = 7;
	sink_(LogRecord{priority, message, fields});
}

void Log::print(int priority, const char *fmt, ...) const {
	va_list ap;
	va_start(ap, fmt);
	emit(priority, nullptr, fmt, ap);
	va_end(ap);
}

void Log::event(int priority, const LogFields &fields, const char *fmt, ...) const {
	va_list ap;
	va_start(ap, fmt);
	emit(priority, &fields, fmt, ap);
	va_end(ap);
}

} // namespace tlsup
