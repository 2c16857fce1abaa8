// SPDX-License-Identifier: GPL-2.0
#include "session_tags.hpp"

#include <algorithm>
#include <dirent.h>
#include <memory>

namespace tlsup {

namespace {

struct DirClose {
	void operator()(DIR *d) const { closedir(d); }
};

bool ends_with(const std::string &s, const std::string &suffix) {
	return s.size() >= suffix.size() &&
	       s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

std::vector<std::string> session_tag_files(const std::string &dir) {
	std::vector<std::string> out;
	std::unique_ptr<DIR, DirClose> d(opendir(dir.c_str()));
	if (!d)
		return out;
	while (dirent *e = readdir(d.get())) {
		std::string name = e->d_name;
		if (name == "." || name == "..")
			continue;
		if (ends_with(name, ".yml") || ends_with(name, ".yaml"))
			out.push_back(dir + "/" + name);
	}
	std::sort(out.begin(), out.end());
	return out;
}

} // namespace tlsup
