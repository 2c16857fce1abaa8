// SPDX-License-Identifier: GPL-2.0
#include "config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <ini.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

#include "unique_fd.hpp"

namespace tlsup {

namespace {

std::string_view trim(std::string_view s) {
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() &&
	       (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
		s.remove_suffix(1);
	return s;
}

// libinih hands lines to the handler after stripping what it takes for an
// inline comment ("a ;b" -> "a"), which would silently truncate tlshd's
// ';'-separated keyring lists, and it cuts lines at 200 bytes. So it only
// tracks sections and syntax; values come from the raw line, read here.
struct ParseState {
	std::string_view text;
	std::string_view filename;
	size_t pos = 0;
	int line = 0;
	std::string_view raw; // current line, without the newline
	Config cfg;
	std::optional<Error> first_error;
	int first_error_line = 0;
	std::map<std::string, int> seen;
};

char *read_line(char *buf, int size, void *stream) {
	auto *st = static_cast<ParseState *>(stream);
	if (st->pos >= st->text.size() || size < 2)
		return nullptr;
	size_t end = st->text.find('\n', st->pos);
	size_t next = end == std::string_view::npos ? st->text.size() : end + 1;
	st->raw = st->text.substr(st->pos, next - st->pos);
	if (!st->raw.empty() && st->raw.back() == '\n')
		st->raw.remove_suffix(1);
	st->pos = next;
	st->line++;
	// NUL bytes would end the line early for inih; give it a marker line
	// that is a syntax error instead.
	if (st->raw.find('\0') != std::string_view::npos) {
		std::snprintf(buf, size, "\x01\n");
		return buf;
	}
	size_t n = std::min(st->raw.size(), static_cast<size_t>(size) - 2);
	std::memcpy(buf, st->raw.data(), n);
	buf[n] = '\n';
	buf[n + 1] = '\0';
	return buf;
}

Result<uint64_t> parse_number(std::string_view v, uint64_t min, uint64_t max) {
	uint64_t out = 0;
	auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
	if (v.empty() || ec != std::errc() || ptr != v.data() + v.size())
		return make_error(EINVAL, "'%.*s' is not a number", static_cast<int>(v.size()),
		                  v.data());
	if (out < min || out > max)
		return make_error(EINVAL, "%llu is out of range [%llu, %llu]",
		                  static_cast<unsigned long long>(out),
		                  static_cast<unsigned long long>(min),
		                  static_cast<unsigned long long>(max));
	return out;
}

std::vector<std::string> split_list(std::string_view v) {
	std::vector<std::string> out;
	size_t start = 0;
	while (start <= v.size()) {
		size_t end = v.find_first_of(";,", start);
		if (end == std::string_view::npos)
			end = v.size();
		auto item = trim(v.substr(start, end - start));
		if (!item.empty())
			out.emplace_back(item);
		start = end + 1;
	}
	return out;
}

Result<void> set_path(std::string &dst, std::string_view v) {
	if (v.empty())
		return make_error(EINVAL, "empty path");
	if (v.front() != '/')
		return make_error(EINVAL, "'%.*s' is not an absolute path",
		                  static_cast<int>(v.size()), v.data());
	dst = std::string(v);
	return {};
}

Result<void> apply_x509(X509Paths &p, std::string_view key, std::string_view v, Config &cfg,
                        const std::string &full) {
	if (key == "x509.truststore")
		return set_path(p.truststore, v);
	if (key == "x509.crl")
		return set_path(p.crl, v);
	if (key == "x509.certificate")
		return set_path(p.certificate, v);
	if (key == "x509.private_key")
		return set_path(p.private_key, v);
	if (key == "x509.pq.certificate" || key == "x509.pq.private_key") {
		cfg.ignored.push_back(full);
		return {};
	}
	return make_error(EINVAL, "unknown key");
}

Result<void> apply_debug_level(Config &cfg, std::string_view v, bool agent_level_set) {
	auto n = TRY(parse_number(v, 0, 1000000));
	if (!agent_level_set)
		cfg.log_level = n > 0 ? kLogDebug : kLogInfo;
	return {};
}

Result<void> apply(ParseState &st, std::string_view section, std::string_view key,
                   std::string_view v) {
	Config &cfg = st.cfg;
	std::string full = std::string(section) + "." + std::string(key);
	bool agent_level_set = st.seen.count("agent.log_level") > 0;

	if (section == "agent") {
		if (key == "workers") {
			cfg.workers = static_cast<unsigned>(TRY(parse_number(v, 0, 256)));
		} else if (key == "max_inflight") {
			cfg.max_inflight = static_cast<unsigned>(TRY(parse_number(v, 1, 1000000)));
		} else if (key == "default_timeout_ms") {
			cfg.default_timeout_ms =
			        static_cast<uint32_t>(TRY(parse_number(v, 1, 3600000)));
		} else if (key == "reverse_dns") {
			if (v == "yes" || v == "true" || v == "on" || v == "1")
				cfg.reverse_dns = true;
			else if (v == "no" || v == "false" || v == "off" || v == "0")
				cfg.reverse_dns = false;
			else
				return make_error(EINVAL, "'%.*s' is not yes or no",
				                  static_cast<int>(v.size()), v.data());
		} else if (key == "reverse_dns_threads") {
			cfg.reverse_dns_threads =
			        static_cast<unsigned>(TRY(parse_number(v, 1, 64)));
		} else if (key == "reverse_dns_timeout_ms") {
			cfg.reverse_dns_timeout_ms =
			        static_cast<uint32_t>(TRY(parse_number(v, 0, 60000)));
		} else if (key == "log_level") {
			auto level = parse_log_level(v);
			if (!level)
				return make_error(EINVAL,
				                  "'%.*s' is not a level (err, warning, notice, "
				                  "info, debug or 0-7)",
				                  static_cast<int>(v.size()), v.data());
			cfg.log_level = *level;
		} else if (key == "control_socket") {
			TRY(set_path(cfg.control_socket, v));
			if (cfg.control_socket.size() >= 108)
				return make_error(EINVAL, "path longer than a unix socket allows");
		} else {
			return make_error(EINVAL, "unknown key");
		}
		return {};
	}
	if (section == "authenticate" && key == "psk_keyrings") {
		for (auto &k : split_list(v))
			cfg.psk_keyrings.push_back(std::move(k));
		return {};
	}
	if (section == "authenticate" || (section == "main" && key == "keyrings")) {
		if (key != "keyrings")
			return make_error(EINVAL, "unknown key");
		for (auto &k : split_list(v))
			cfg.keyrings.push_back(std::move(k));
		return {};
	}
	if (section == "authenticate.client")
		return apply_x509(cfg.client, key, v, cfg, full);
	if (section == "authenticate.server")
		return apply_x509(cfg.server, key, v, cfg, full);
	if (section == "debug") {
		if (key == "loglevel")
			return apply_debug_level(cfg, v, agent_level_set);
		if (key == "tls" || key == "nl" || key == "delay_done") {
			TRY(parse_number(v, 0, 1000000));
			cfg.ignored.push_back(full);
			return {};
		}
		return make_error(EINVAL, "unknown key");
	}
	if (section == "main") { // tlshd's first configuration format
		if (key == "debug")
			return apply_debug_level(cfg, v, agent_level_set);
		if (key == "tlsdebug" || key == "nl_debug") {
			TRY(parse_number(v, 0, 1000000));
			cfg.ignored.push_back(full);
			return {};
		}
		return make_error(EINVAL, "unknown key");
	}
	if (section.empty())
		return make_error(EINVAL, "key outside any section");
	return make_error(EINVAL, "unknown section");
}

int on_key(void *user, const char *section, const char *name, const char *) {
	auto *st = static_cast<ParseState *>(user);
	std::string_view sec(section), key(name);
	auto fail = [&](const Error &e) {
		if (!st->first_error) {
			st->first_error = make_error(e.code, "%.*s:%d: [%s] %s: %s",
			                             static_cast<int>(st->filename.size()),
			                             st->filename.data(), st->line, section, name,
			                             e.reason.c_str());
			st->first_error_line = st->line;
		}
		return 0;
	};

	// The raw line must start with this key; otherwise inih is folding a
	// continuation line into the previous key.
	std::string_view raw = trim(st->raw);
	if (st->line == 1 && raw.substr(0, 3) == "\xEF\xBB\xBF")
		raw = trim(raw.substr(3));
	if (raw.substr(0, key.size()) != key)
		return fail(make_error(EINVAL, "continuation lines are not supported"));
	size_t delim = raw.find_first_of("=:");
	if (delim == std::string_view::npos)
		return fail(make_error(EINVAL, "no value"));
	std::string_view value = trim(raw.substr(delim + 1));

	std::string full = std::string(sec) + "." + std::string(key);
	if (st->seen.count(full))
		return fail(make_error(EINVAL, "repeated (first on line %d)", st->seen[full]));
	auto r = apply(*st, sec, key, value);
	if (!r)
		return fail(r.error());
	st->seen[full] = st->line;
	return 1;
}

} // namespace

std::string Config::where(const std::string &section, const std::string &key) const {
	auto it = lines.find(section + "." + key);
	std::string out = source.empty() ? std::string("(defaults)") : source;
	if (it != lines.end())
		out += ":" + std::to_string(it->second);
	return out + ": [" + section + "] " + key;
}

Result<Config> parse_config(std::string_view text, std::string_view filename) {
	ParseState st;
	st.text = text;
	st.filename = filename;
	st.cfg.source = std::string(filename);
	int rc = ini_parse_stream(read_line, &st, on_key, &st);
	if (rc == -2)
		return make_error(ENOMEM, "%.*s: out of memory while parsing",
		                  static_cast<int>(filename.size()), filename.data());
	if (st.first_error && (rc <= 0 || rc >= st.first_error_line))
		return *st.first_error;
	if (rc != 0)
		return make_error(EINVAL,
		                  "%.*s:%d: syntax error (expected [section] or key = value)",
		                  static_cast<int>(filename.size()), filename.data(), rc);
	st.cfg.lines = std::move(st.seen);
	return std::move(st.cfg);
}

Result<Config> load_config_file(const std::string &path) {
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd.valid())
		return make_error(errno, "%s: cannot open: %s", path.c_str(), strerror(errno));
	struct stat sb;
	if (fstat(fd.get(), &sb) != 0)
		return make_error(errno, "%s: cannot stat: %s", path.c_str(), strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return make_error(EINVAL, "%s: not a regular file", path.c_str());
	if (sb.st_size > (1 << 20))
		return make_error(EINVAL, "%s: larger than 1 MiB", path.c_str());
	std::string text;
	char buf[4096];
	for (;;) {
		ssize_t n = ::read(fd.get(), buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return make_error(errno, "%s: read: %s", path.c_str(), strerror(errno));
		if (n == 0)
			break;
		text.append(buf, static_cast<size_t>(n));
		if (text.size() > (1 << 20))
			return make_error(EINVAL, "%s: larger than 1 MiB", path.c_str());
	}
	return parse_config(text, path);
}

Result<Config> load_config(const std::string &explicit_path) {
	if (!explicit_path.empty())
		return load_config_file(explicit_path);
	for (const char *p : kConfigSearchPath)
		if (::access(p, F_OK) == 0)
			return load_config_file(p);
	return Config{};
}

} // namespace tlsup
