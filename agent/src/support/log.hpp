// SPDX-License-Identifier: GPL-2.0
//
// Logging. Under journald (stderr is the stream $JOURNAL_STREAM names) each
// line is a native journal entry with tlsupd's fields (sd_journal_sendv);
// otherwise it is a line in journald's stream format on stderr, "<N>"
// first, N the syslog priority, one write(2) per line so threads never
// interleave. Every message is escaped here, whoever wrote it: a peer's
// PSK identity, certificate name or SNI cannot start a line of its own.
// Messages name a handshake by its fd and say why it failed; they never
// carry key material (keys, PSKs, private keys, session secrets).
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// TEXT with every byte a reader could take for structure written as \xNN:
// C0 controls (so "\n<0>" cannot forge a journald stream line), DEL, bytes
// that are not UTF-8, the C1 controls U+0080..U+009F, and the Unicode line
// separators and bidirectional controls (U+2028, U+2029, U+202A..U+202E,
// U+2066..U+2069) that make a terminal show text other than what is
// stored. '\' becomes "\\", so the escaping can be undone exactly.
std::string escape_log_text(std::string_view text);

// A private key URL (pkcs11:, tpmkey:) fit to print: its query part -- where
// RFC 7512 puts pin-value, the token's PIN -- replaced by "<redacted>".
std::string redact_key_url(std::string_view url);

// TEXT with every secret a key URL may carry taken out: the query part of
// each pkcs11: or tpmkey: URL in it (up to the next space, quote or
// bracket), and the value of every pin-value= wherever it stands. The
// logger applies it to every line and the control socket to every reply,
// whoever built the text; redact_key_url is for the places that name a key.
std::string redact_secrets(std::string_view text);

// A handshake's outcome as journal fields (journalctl TLSUP_STATUS=EACCES).
struct LogFields {
	std::string request;                // TLSUP_REQUEST: "WORKER.SEQ", "a.SEQ"
	std::optional<int> status;          // TLSUP_STATUS: errno name, "0" for success
	std::string peer;                   // TLSUP_PEER: address:port
	std::string auth;                   // TLSUP_AUTH: anon, psk, x509
	std::optional<uint64_t> latency_us; // TLSUP_LATENCY_US: ACCEPT to DONE
};

// One message on its way to a sink: MESSAGE is already escaped.
struct LogRecord {
	int priority;
	std::string_view message;
	const LogFields *fields; // null for a plain message
};

// "FIELD=value" strings of a native journal entry for RECORD: MESSAGE,
// PRIORITY, SYSLOG_IDENTIFIER=tlsupd, then each TLSUP_* field that is set
// (values escaped like messages). Pure, for tests.
std::vector<std::string> journal_fields(const LogRecord &record);

// True when stderr is the journal stream systemd connected ($JOURNAL_STREAM
// is "DEV:INODE" of stderr, as systemd.exec(5) documents).
bool stderr_is_journal();

class Log {
public:
	using Sink = std::function<void(const LogRecord &)>;
	// A sink that sees only priority and (escaped) line.
	using LineSink = std::function<void(int priority, std::string_view line)>;

	// Native journal entries when stderr_is_journal(), else stderr lines.
	Log();
	explicit Log(Sink sink);
	explicit Log(LineSink sink);

	void set_level(int level) { level_.store(level, std::memory_order_relaxed); }
	int level() const { return level_.load(std::memory_order_relaxed); }
	bool enabled(int priority) const { return priority <= level(); }
	bool native_journal() const { return native_; }

	[[gnu::format(printf, 3, 4)]] void print(int priority, const char *fmt, ...) const;
	// The same, with the journal fields of a handshake.
	[[gnu::format(printf, 4, 5)]] void event(int priority, const LogFields &fields,
	                                         const char *fmt, ...) const;
	// A record another Log built (its message escaped and redacted already),
	// to this Log's sink as it is; the level is the other Log's business.
	void write(const LogRecord &record) const { sink_(record); }

	// Messages longer than this are cut (before escaping) and marked.
	static constexpr size_t kMaxMessage = 4096;

private:
	void emit(int priority, const LogFields *fields, const char *fmt, va_list ap) const;

	Sink sink_;
	bool native_ = false;
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

// A message with journal fields, at PRIO if enabled.
#define LOG_EVENT(log, prio, fields, ...)                                                          \
	do {                                                                                       \
		if ((log).enabled(prio))                                                           \
			(log).event(prio, fields, __VA_ARGS__);                                    \
	} while (0)

} // namespace tlsup
