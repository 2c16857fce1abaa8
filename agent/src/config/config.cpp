// SPDX-License-Identifier: GPL-2.0
#include "config.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <glib.h>
#include <memory>
#include <optional>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configured_file.hpp"

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

std::string_view trim_space(std::string_view s) {
	s = trim_trailing_space(s);
	while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
		s.remove_prefix(1);
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

template <bool Config::*Field>
Result<void> agent_bool(Parser &p, const char *section, const char *key) {
	GError *raw = nullptr;
	gboolean b = g_key_file_get_boolean(p.kf, section, key, &raw);
	GErrorPtr err(raw);
	if (err)
		return p.fail(section, key, "not a boolean (true, false, 1 or 0)");
	p.cfg.*Field = b;
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
		std::string_view item = trim_space(text);
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

// DANE (ktls-utils after 1.4): "require" and "opportunistic" both refuse a
// server whose certificate does not match a DNSSEC-signed TLSA record, or
// whose TLSA lookup fails; without that check tlsupd would accept it. Only
// "off" is the same as no DANE. Any other value is refused too: it could
// mean either.
Result<void> dane_mode(Parser &p, const char *section, const char *key) {
	std::string v = TRY(p.string(section, key));
	std::string mode(trim_trailing_space(v));
	for (char &c : mode)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	if (mode == "off")
		return known_unused(p, section, key);
	if (mode == "require" || mode == "opportunistic")
		return p.fail(section, key,
		              "tlsupd does not implement DANE; '" + v +
		                      "' refuses servers whose certificate a DNSSEC-signed TLSA "
		                      "record does not match, which tlsupd would accept, so it is "
		                      "refused (dane = off, or remove the key)");
	return p.fail(section, key, "'" + v + "' is not a DANE mode (off, opportunistic, require)");
}

// ktls-utils' x509.client_auth: 0 or 1 (GLib's booleans: true/false too).
// A value that is neither is no "0": it is refused.
Result<void> client_auth(Parser &p, const char *section, const char *key) {
	GError *raw = nullptr;
	gboolean b = g_key_file_get_boolean(p.kf, section, key, &raw);
	GErrorPtr err(raw);
	if (err)
		return p.fail(section, key, "not 0, 1, true or false");
	p.cfg.client_policy.require_certificate = b;
	return {};
}

// ktls-utils' x509.client_allowed_sans: DNS names or IP addresses, ';'
// separated. Items are trimmed; an empty list would refuse every client
// certificate, which is surely not what was meant: refused.
Result<void> client_allowed_sans(Parser &p, const char *section, const char *key) {
	std::vector<std::string> out;
	for (const std::string &text : TRY(string_list(p, section, key))) {
		std::string_view item = trim_space(text);
		if (item.empty())
			continue;
		std::string name(item);
		for (char c : name)
			if (std::isspace(static_cast<unsigned char>(c)) || c < 0x20)
				return p.fail(section, key,
				              "'" + name + "' is not a name or address");
		for (char &c : name)
			c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
		if (name.size() > 1 && name.back() == '.')
			name.pop_back();
		out.push_back(std::move(name));
	}
	if (out.empty())
		return p.fail(section, key,
		              "empty: no client certificate would do; remove the key to accept "
		              "any the trust store verifies");
	p.cfg.client_policy.allowed_sans = std::move(out);
	return {};
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
        {"agent", "max_inflight_per_peer",
         agent_number<&Config::max_inflight_per_peer, 1, 1000000>},
        {"agent", "default_timeout_ms", agent_number<&Config::default_timeout_ms, 1, 3600000>},
        {"agent", "worker_nice", agent_number<&Config::worker_nice, 0, 19>},
        {"agent", "acceptor_realtime", agent_bool<&Config::acceptor_realtime>},
        {"agent", "reverse_dns", agent_bool<&Config::reverse_dns>},
        {"agent", "reverse_dns_threads", agent_number<&Config::reverse_dns_threads, 1, 64>},
        {"agent", "reverse_dns_timeout_ms",
         agent_number<&Config::reverse_dns_timeout_ms, 0, 60000>},
        {"agent", "log_level", agent_log_level},
        {"agent", "control_socket", agent_control_socket},
        {"agent", "test_hooks", agent_bool<&Config::test_hooks>},

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
        {kServer, "x509.client_auth", client_auth},
        {kServer, "x509.client_allowed_sans", client_allowed_sans},
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

namespace {

bool holds_pin(const std::string &value) {
	std::string lower;
	for (char c : value)
		lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	return is_gnutls_url(value) && lower.find("pin-value=") != std::string::npos;
}

// Who besides root may replace the file, and who may read a PIN in it.
void warn_about_file(Config &cfg, const ConfiguredFile &file) {
	std::string replace = file_exposure(file.st, false, ::geteuid());
	for (const auto &d : file.exposure)
		replace += (replace.empty() ? "" : "; ") + d;
	if (!replace.empty())
		cfg.warnings.push_back(cfg.source + ": " + replace);
	char mode[8];
	std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(file.st.st_mode & 07777));
	std::string readers;
	if (file.st.st_mode & S_IROTH)
		readers = "any user may read " + cfg.source + " (mode " + mode + "; chmod o-r)";
	else if ((file.st.st_mode & S_IRGRP) && file.st.st_gid != 0)
		readers = "group " + std::to_string(file.st.st_gid) + " may read " + cfg.source +
		          " (mode " + mode + "; chmod g-r)";
	if (readers.empty())
		return;
	for (const auto &[section, p] : {std::pair{"authenticate.client", &cfg.client},
	                                 std::pair{"authenticate.server", &cfg.server}})
		for (const auto &[key, value] :
		     {std::pair{"x509.private_key", &p->private_key},
		      std::pair{"x509.pq.private_key", &p->pq_private_key}})
			if (holds_pin(*value))
				cfg.warnings.push_back(cfg.where(section, key) +
				                       ": holds a PIN (pin-value), and " + readers);
}

} // namespace

Result<Config> load_config_file(const std::string &path) {
	// Absolute: a relative -c is taken against the working directory.
	std::string full = path;
	if (full.empty() || full.front() != '/') {
		char cwd[4096];
		if (!::getcwd(cwd, sizeof(cwd)))
			return make_error(errno, "%s: getcwd: %s", path.c_str(), strerror(errno));
		full = std::string(cwd) + "/" + path;
	}
	ConfiguredFile file = TRY(open_configured_file(full));
	SecretBytes bytes = TRY(read_secret_fd(file.fd.get(), full, 1 << 20));
	Config cfg = TRY(parse_config(
	        std::string_view(reinterpret_cast<const char *>(bytes.data()), bytes.size()),
	        path));
	warn_about_file(cfg, file);
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
