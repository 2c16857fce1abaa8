// SPDX-License-Identifier: GPL-2.0
//
// libFuzzer: the logger's escaping on arbitrary bytes (a peer's PSK
// identity, certificate name or SNI). What leaves the logger has no
// control byte, is valid UTF-8 without C1, line-separator or bidi code
// points, undoes exactly to the input, and a journal entry's fields carry no
// newline.
#include <cstdlib>
#include <string>

#include "log.hpp"

namespace {

bool hex(char c, unsigned *v) {
	if (c >= '0' && c <= '9')
		*v = static_cast<unsigned>(c - '0');
	else if (c >= 'a' && c <= 'f')
		*v = static_cast<unsigned>(c - 'a' + 10);
	else
		return false;
	return true;
}

std::string unescape(const std::string &s) {
	std::string out;
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] != '\\') {
			out += s[i];
			continue;
		}
		if (i + 1 < s.size() && s[i + 1] == '\\') {
			out += '\\';
			i++;
			continue;
		}
		unsigned hi, lo;
		if (i + 3 >= s.size() || s[i + 1] != 'x' || !hex(s[i + 2], &hi) ||
		    !hex(s[i + 3], &lo))
			std::abort(); // not an escape the logger writes
		out += static_cast<char>(hi << 4 | lo);
		i += 3;
	}
	return out;
}

// The output is plain, readable UTF-8: every code point printable.
void check_clean(const std::string &s) {
	for (size_t i = 0; i < s.size();) {
		unsigned char c = static_cast<unsigned char>(s[i]);
		if (c < 0x20 || c == 0x7f)
			std::abort();
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
		if (n == 0 || i + n > s.size())
			std::abort();
		uint32_t cp = n == 2 ? c & 0x1fu : n == 3 ? c & 0x0fu : c & 0x07u;
		for (size_t j = 1; j < n; j++) {
			unsigned char d = static_cast<unsigned char>(s[i + j]);
			if ((d & 0xc0) != 0x80)
				std::abort();
			cp = cp << 6 | (d & 0x3fu);
		}
		bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
		if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
		    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
			std::abort();
		i += n;
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::string in(reinterpret_cast<const char *>(data), size);
	std::string out = tlsup::escape_log_text(in);
	check_clean(out);
	if (unescape(out) != in)
		std::abort();

	// Through the logger, as a peer-chosen %s argument.
	std::string seen;
	int prio = -1;
	tlsup::Log log([&](int p, std::string_view line) {
		prio = p;
		seen = std::string(line);
	});
	std::string arg = in.substr(0, in.find('\0'));
	log.print(size > 0 ? data[0] % 10 : 3, "peer '%s'", arg.c_str());
	check_clean(seen);
	if (prio < 0 || prio > 7)
		std::abort();
	std::string expect = "peer '" + arg + "'";
	if (expect.size() <= tlsup::Log::kMaxMessage && seen != tlsup::escape_log_text(expect))
		std::abort();

	tlsup::LogFields f;
	f.request = in;
	f.peer = in;
	f.auth = arg;
	f.status = size > 1 ? data[1] : 0;
	tlsup::LogRecord r{3, out, &f};
	for (const auto &field : tlsup::journal_fields(r)) {
		size_t eq = field.find('=');
		if (eq == std::string::npos || eq == 0 || field.find('\n') != std::string::npos)
			std::abort();
		for (size_t i = 0; i < eq; i++)
			if (!((field[i] >= 'A' && field[i] <= 'Z') || field[i] == '_' ||
			      (field[i] >= '0' && field[i] <= '9')))
				std::abort();
	}
	return 0;
}
