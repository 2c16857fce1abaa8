// SPDX-License-Identifier: GPL-2.0
#include "secret_bytes.hpp"

#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

namespace tlsup {

Result<SecretBytes> read_secret_fd(int fd, const std::string &path, size_t max) {
	struct stat st;
	if (fstat(fd, &st) < 0)
		return make_error(errno, "cannot stat %s: %s", path.c_str(), strerror(errno));
	SecretBytes out;
	size_t have = 0;
	// Room for the size fstat says and one byte more, to see the end.
	out.resize(std::min(static_cast<size_t>(st.st_size > 0 ? st.st_size : 0), max) + 1);
	for (;;) {
		if (have == out.size()) {
			if (out.size() > max)
				return make_error(EINVAL, "%s is larger than %zu bytes",
				                  path.c_str(), max);
			out.resize(std::min(out.size() * 2, max + 1));
		}
		ssize_t n = ::read(fd, out.data() + have, out.size() - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return make_error(errno, "cannot read %s: %s", path.c_str(),
			                  strerror(errno));
		if (n == 0)
			break;
		have += static_cast<size_t>(n);
	}
	if (have > max)
		return make_error(EINVAL, "%s is larger than %zu bytes", path.c_str(), max);
	out.resize(have);
	return out;
}

} // namespace tlsup
