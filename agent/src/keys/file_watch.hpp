// SPDX-License-Identifier: GPL-2.0
//
// Tells when configured files change, so that a renewed certificate is
// used without a reload. inotify watches the files' directories, not the
// files: a renewal usually writes a new file and renames it over the old
// one (or repoints a symlink, as certbot's live/ directory does), which a
// watch on the old inode would miss.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "result.hpp"
#include "unique_fd.hpp"

namespace tlsup {

class FileWatch {
public:
	static Result<std::unique_ptr<FileWatch>> create();

	// Readable when events wait; for the agent's loop.
	int fd() const { return fd_.get(); }

	// The files to watch (absolute paths; anything else is ignored),
	// replacing the previous set.
	Result<void> watch(const std::vector<std::string> &files);

	// Reads every pending event; true when one names a watched file.
	bool changed();

private:
	FileWatch() = default;
	UniqueFd fd_;
	std::map<int, std::string> dirs_;                    // watch descriptor -> directory
	std::map<std::string, std::set<std::string>> names_; // directory -> file names
};

} // namespace tlsup
