// SPDX-License-Identifier: GPL-2.0
#include "config.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <glib.h>
#include <memory>
#include <optional>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unique_fd.hpp"

namespace tlsup {

namespace {

struct KeyFileFree {
	void operator()(GKeyFile *k) const { g_key_file_free(k); }
};
struct GErrorFree {
	void operator()(GError *e) const { g_error_free(e); }
};
struct GFree {
	void operator()(void *p) const { g_free(p); }
};
struct GStrvFree {
	void operator()(gchar **v) const { g_strfreev(v); }
};
using KeyFile = std::unique_ptr<GKeyFile, KeyFileFree>;
using GErrorPtr = std::unique_ptr<GError, GErrorFree>;
using GString_ = std::unique_ptr<gchar, GFree>;
using GStrv_ = std::unique_ptr<gchar *, GStrvFree>;

struct Parser;
using Handler = Result<void> (*)(Parser &, const char *section, const char *key);

struct Parser {
	GKeyFile *kf;
	Config cfg;
	std::optional<int> agent_level; // [agent] log_level wins over tlshd's
	int tlshd_debug = 0;            // [debug] loglevel or [main] debug

	Error fail(const char *section, const char *key, const std::string &why) const {
		return Error{EINVAL, cfg.where(section, key) + ": " + why};
	}
	void notice(const char *section, const char *key, const std::string &what) {
		cfg.notices.push_back(cfg.where(section, key) + ": " + what);
	}

	// The value exactly as tlshd's g_key_file_get_string(..., NULL) gets
	// it: escapes decoded, an escape GLib does not know kept as written
	// (GLib reports it but still returns the text). tlshd treats a value
	// that is not UTF-8 as absent; for a path that would silently mean "no
	// trust store" or "no certificate", so it is an error here.
	Result<std::string> string(const char *section, const char *key) const {
		GError *raw = nullptr;
		GString_ v(g_key_file_get_string(kf, section, key, &raw));
		GErrorPtr err(raw);
		if (!v)
			return fail(section, key, "the value is not valid UTF-8");
		return std::string(v.get());
	}
};

std::string_view trim_trailing_space(std::string_view s) {
	while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
		s.remove_suffix(1);
	return s;
}

// GLib reads an integer with strtol and allows trailing white space; these
// are tlsupd's own keys, so anything else is an error, not 0.
Result<uint64_t> number(Parser &p, const char *section, const char *key, uint64_t min,
                        uint64_t max) {
	std::string text = TRY(p.string(section, key));
	std::string_view v = trim_trailing_space(text);
	uint64_t out = 0;
	auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
	if (v.empty() || ec != std::errc() || ptr != v.data() + v.size())
		return p.fail(section, key, "'" + std::string(v) + "' is not a number");
	if (out < min || out > max)
		return p.fail(section, key,
		              std::to_string(out) + " is out of range [" + std::to_string(min) +
		                      ", " + std::to_string(max) + "]");
	return out;
}

template <auto Field, uint64_t Min, uint64_t Max>
Result<void> agent_number(Parser &p, const char *section, const char *key) {
	using T = std::remove_reference_t<decltype(p.cfg.*Field)>;
	p.cfg.*Field = static_cast<T>(TRY(number(p, section, key, Min, Max)));
	return {};
}

Result<void> agent_log_level(Parser &p, const char *section, const char *key) {
	std::string text = TRY(p.string(section, key));
	auto level = parse_log_level(trim_trailing_space(text));
	if (!level)
		return p.fail(section, key,
		              "'" + text +
		                      "' is not a level (err, warning, notice, info, debug "
		                      "or 0-7)");
	p.agent_level = *level;
	return {};
}

Result<void> agent_control_socket(Parser &p, const char *section, const char *key) {
	std::string v = TRY(p.string(section, key));
	if (v.empty() || v.front() != '/')
		return p.fail(section, key, "'" + v + "' is not an absolute path");
	if (v.size() >= 108)
		return p.fail(section, key, "path longer than a unix socket allows");
	p.cfg.control_socket = std::move(v);
	return {};
}

Result<void> agent_test_hooks(Parser &p, const char *section, const char *key) {
	GError *raw = nullptr;
	gboolean b = g_key_file_get_boolean(p.kf, section, key, &raw);
	GErrorPtr err(raw);
	if (err)
		return p.fail(section, key, "not a boolean (true, false, 1 or 0)");
	p.cfg.test_hooks = b;
	return {};
}

// tlshd: g_key_file_get_integer(..., NULL), so a bad value is 0.
Result<void> tlshd_debug_level(Parser &p, const char *section, const char *key) {
	GError *raw = nullptr;
	gint v = g_key_file_get_integer(p.kf, section, key, &raw);
	GErrorPtr err(raw);
	if (err) {
		p.notice(section, key, "not a number; read as 0, as tlshd reads it");
		v = 0;
	}
	p.tlshd_debug = v;
	return {};
}

Result<void> known_unused(Parser &p, const char *section, const char *key) {
	p.cfg.ignored.push_back(std::string(section) + "." + key);
	return {};
}

// A list the way GLib (and so tlshd) reads one: ';'-separated, "\;"
// escapes a separator, items are not trimmed.
Result<std::vector<std::string>> string_list(Parser &p, const char *section, const char *key) {
	gsize n = 0;
	GError *raw = nullptr;
	GStrv_ list(g_key_file_get_string_list(p.kf, section, key, &n, &raw));
	GErrorPtr err(raw);
	if (!list)
		return p.fail(section, key, "the list cannot be read (not UTF-8?)");
	return std::vector<std::string>(list.get(), list.get() + n);
}

// tlshd links each entry (tlshd_keyring_link_session) except the consumer
// keyrings it always links.
Result<void> keyrings(Parser &p, const char *section, const char *key) {
	for (const std::string &item : TRY(string_list(p, section, key))) {
		if (item.empty())
			continue;
		if (item == ".nvme" || item == ".nfs" || item == ".nfsd")
			continue;
		p.cfg.keyrings.push_back(item);
	}
	return {};
}

// tlsupd's own: keyrings whose "user" keys are server PSKs too. Read like
// keyrings, but every entry counts (a consumer keyring may be one).
Result<void> psk_keyrings(Parser &p, const char *section, const char *key) {
	for (const std::string &item : TRY(string_list(p, section, key)))
		if (!item.empty())
			p.cfg.psk_keyrings.push_back(item);
	return {};
}

// tlsupd's own: who besides root may own a keyring tlsupd links or
// searches. A user name is resolved now, so a name that does not exist is
// an error here rather than a keyring refused later for no visible reason.
Result<void> keyring_owners(Parser &p, const char *section, const char *key) {
	for (const std::string &text : TRY(string_list(p, section, key))) {
		std::string_view item = trim_trailing_space(text);
		while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front())))
			item.remove_prefix(1);
		if (item.empty())
			continue;
		uint32_t uid = 0;
		auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), uid);
		if (ec == std::errc() && ptr == item.data() + item.size()) {
			if (uid == static_cast<uint32_t>(-1))
				return p.fail(section, key, "uid 4294967295 is no user");
			p.cfg.keyring_owners.push_back(static_cast<uid_t>(uid));
			continue;
		}
		std::string name(item);
		passwd pw{}, *found = nullptr;
		std::vector<char> buf(16384);
		int r = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
		if (r != 0 || !found)
			return p.fail(
			        section, key,
			        "'" + name + "' is not a user" +
			                (r != 0 ? std::string(" (") + strerror(r) + ")" : ""));
		p.cfg.keyring_owners.push_back(pw.pw_uid);
	}
	return {};
}

Result<void> agent_reverse_dns(Parser &p, const char *section, const char *key) {
	GError *raw = nullptr;
	gboolean b = g_key_file_get_boolean(p.kf, section, key, &raw);
	GErrorPtr err(raw);
	if (err)
		return p.fail(section, key, "not a boolean (true, false, 1 or 0)");
	p.cfg.reverse_dns = b;
	return {};
}

// DANE (ktls-utils after 1.4): "require" asks for a check tlsupd does not
// make; running without it would accept servers tlshd refuses.
Result<void> dane_mode(Parser &p, const char *section, const char *key) {
	std::string v = TRY(p.string(section, key));
	if (trim_trailing_space(v) == "require")
		return p.fail(section, key,
		              "tlsupd does not implement DANE; 'require' would be weakened to "
		              "PKIX only, so it is refused");
	return known_unused(p, section, key);
}

X509Paths &role(Parser &p, const char *section) {
	return std::strcmp(section, "authenticate.client") == 0 ? p.cfg.client : p.cfg.server;
}

template <std::string X509Paths::*Field>
Result<void> x509_path(Parser &p, const char *section, const char *key) {
	std::string v = TRY(p.string(section, key));
	if (v.empty()) {
		// tlshd opens "" and fails: the same as not setting the key.
		p.notice(section, key, "empty; treated as not set, as tlshd does");
		return {};
	}
	role(p, section).*Field = std::move(v);
	return {};
}

struct KnownKey {
	const char *section;
	const char *key;
	Handler handle;
};

constexpr const char *kClient = "authenticate.client";
constexpr const char *kServer = "authenticate.server";

// Every key tlsupd knows: its own, and every key of the tlshd.conf formats
// ktls-utils has shipped (0.8-0.9's [main], 0.10's [debug]/[authenticate],
// 1.2's x509.crl, 1.3's x509.pq.*, and later DANE and client_auth keys).
const KnownKey kKnownKeys[] = {
        {"agent", "workers", agent_number<&Config::workers, 0, 256>},
        {"agent", "max_inflight", agent_number<&Config::max_inflight, 1, 1000000>},
        {"agent", "default_timeout_ms", agent_number<&Config::default_timeout_ms, 1, 3600000>},
        {"agent", "reverse_dns", agent_reverse_dns},
        {"agent", "reverse_dns_threads", agent_number<&Config::reverse_dns_threads, 1, 64>},
        {"agent", "reverse_dns_timeout_ms",
         agent_number<&Config::reverse_dns_timeout_ms, 0, 60000>},
        {"agent", "log_level", agent_log_level},
        {"agent", "control_socket", agent_control_socket},
        {"agent", "test_hooks", agent_test_hooks},

        {"debug", "loglevel", tlshd_debug_level},
        {"debug", "tls", known_unused},
        {"debug", "nl", known_unused},
        {"debug", "delay_done", known_unused},

        {"main", "debug", tlshd_debug_level},
        {"main", "tlsdebug", known_unused},
        {"main", "libdebug", known_unused},
        {"main", "nl_debug", known_unused},
        {"main", "keyrings", keyrings},
        {"main", "keyring", keyrings},

        {"authenticate", "keyrings", keyrings},
        {"authenticate", "psk_keyrings", psk_keyrings},
        {"authenticate", "keyring_owners", keyring_owners},
        {"authenticate", "dane", dane_mode},
        {"authenticate", "dane.trust_anchor", known_unused},
        {"authenticate", "dane.resolver", known_unused},

        {kClient, "x509.truststore", x509_path<&X509Paths::truststore>},
        {kClient, "x509.crl", x509_path<&X509Paths::crl>},
        {kClient, "x509.certificate", x509_path<&X509Paths::certificate>},
        {kClient, "x509.private_key", x509_path<&X509Paths::private_key>},
        {kClient, "x509.pq.certificate", x509_path<&X509Paths::pq_certificate>},
        {kClient, "x509.pq.private_key", x509_path<&X509Paths::pq_private_key>},
        {kServer, "x509.truststore", x509_path<&X509Paths::truststore>},
        {kServer, "x509.crl", x509_path<&X509Paths::crl>},
        {kServer, "x509.certificate", x509_path<&X509Paths::certificate>},
        {kServer, "x509.private_key", x509_path<&X509Paths::private_key>},
        {kServer, "x509.pq.certificate", x509_path<&X509Paths::pq_certificate>},
        {kServer, "x509.pq.private_key", x509_path<&X509Paths::pq_private_key>},
        {kServer, "x509.client_auth", known_unused},
        {kServer, "x509.client_allowed_sans", known_unused},
};

const KnownKey *find_key(std::string_view section, std::string_view key) {
	for (const auto &k : kKnownKeys)
		if (section == k.section && key == k.key)
			return &k;
	return nullptr;
}

bool known_section(std::string_view section) {
	for (const auto &k : kKnownKeys)
		if (section == k.section)
			return true;
	return false;
}

std::string absolute(const std::string &path, const std::string &cwd) {
	if (path.empty() || path.front() == '/')
		return path;
	return cwd + (cwd.size() > 1 ? "/" : "") + path;
}

void make_absolute(X509Paths &p, const std::string &cwd) {
	for (std::string *s : {&p.truststore, &p.crl, &p.certificate, &p.pq_certificate})
		*s = absolute(*s, cwd);
	for (std::string *s : {&p.private_key, &p.pq_private_key})
		if (!is_gnutls_url(*s))
			*s = absolute(*s, cwd);
}

} // namespace

std::string Config::where(const std::string &section, const std::string &key) const {
	return (source.empty() ? std::string("(defaults)") : source) + ": [" + section + "] " + key;
}

bool is_gnutls_url(std::string_view v) {
	if (v.empty() || !std::isalpha(static_cast<unsigned char>(v.front())))
		return false;
	for (size_t i = 1; i < v.size(); i++) {
		unsigned char c = static_cast<unsigned char>(v[i]);
		if (c == ':')
			return true;
		if (!std::isalnum(c) && c != '+' && c != '-' && c != '.')
			return false;
	}
	return false;
}

Result<Config> parse_config(std::string_view text, std::string_view filename) {
	KeyFile kf(g_key_file_new());
	Parser p{kf.get(), Config{}};
	p.cfg.source = std::string(filename);

	GError *raw = nullptr;
	if (!g_key_file_load_from_data(kf.get(), text.data(), text.size(), G_KEY_FILE_NONE, &raw)) {
		GErrorPtr err(raw);
		return make_error(EINVAL, "%.*s: %s", static_cast<int>(filename.size()),
		                  filename.data(), err ? err->message : "cannot parse");
	}

	gsize ngroups = 0;
	GStrv_ groups(g_key_file_get_groups(kf.get(), &ngroups));
	for (gsize g = 0; g < ngroups; g++) {
		const char *section = groups.get()[g];
		if (!known_section(section)) {
			p.cfg.notices.push_back(p.cfg.source + ": section [" + section +
			                        "] is not used by tlsupd; ignored");
			continue;
		}
		gsize nkeys = 0;
		GStrv_ keys(g_key_file_get_keys(kf.get(), section, &nkeys, nullptr));
		for (gsize k = 0; k < nkeys; k++) {
			const char *key = keys.get()[k];
			// A repeated key is listed once per occurrence; its value
			// is the last one (GKeyFile's rule, and so tlshd's).
			bool seen = false;
			for (gsize j = 0; j < k && !seen; j++)
				seen = std::strcmp(keys.get()[j], key) == 0;
			if (seen)
				continue;
			const KnownKey *known = find_key(section, key);
			if (!known) {
				p.notice(section, key, "unknown key; ignored");
				continue;
			}
			TRY(known->handle(p, section, key));
		}
	}
	if (p.agent_level)
		p.cfg.log_level = *p.agent_level;
	else if (p.tlshd_debug > 0)
		p.cfg.log_level = kLogDebug;
	return std::move(p.cfg);
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
	Config cfg = TRY(parse_config(text, path));
	char cwd[4096];
	if (!::getcwd(cwd, sizeof(cwd)))
		return make_error(errno, "%s: getcwd: %s", path.c_str(), strerror(errno));
	make_absolute(cfg.client, cwd);
	make_absolute(cfg.server, cwd);
	return cfg;
}

Result<Config> load_config(const std::string &explicit_path, const ConfigSearch &search) {
	if (!explicit_path.empty())
		return load_config_file(explicit_path);
	auto exists = [](const std::string &p) { return ::access(p.c_str(), F_OK) == 0; };
	if (exists(search.own))
		return load_config_file(search.own);
	std::optional<Error> legacy_error;
	if (exists(search.tlshd_legacy)) {
		auto legacy = load_config_file(search.tlshd_legacy);
		if (legacy) {
			legacy->notices.push_back(search.tlshd_legacy +
			                          ": deprecated location (tlshd "
			                          "asks to move it to " +
			                          search.tlshd + ")");
			return legacy;
		}
		legacy_error = legacy.error();
	}
	if (exists(search.tlshd)) {
		Config cfg = TRY(load_config_file(search.tlshd));
		if (legacy_error)
			cfg.notices.push_back("skipped " + search.tlshd_legacy +
			                      ", which does not load (tlshd skips it too): " +
			                      legacy_error->reason);
		return cfg;
	}
	if (legacy_error)
		return *legacy_error;
	return Config{};
}

} // namespace tlsup
