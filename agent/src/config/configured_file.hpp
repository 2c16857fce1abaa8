// SPDX-License-Identifier: GPL-2.0
//
// Files the configuration names (the configuration itself, trust stores,
// CRLs, certificates, private keys), opened so that what tlsupd reads is
// what root -- or the agent's own user -- put there, and so that opening
// one never blocks the loop that does it.
//
// The path is walked one component at a time from '/', each directory
// held open (O_PATH, O_NOFOLLOW) and checked: a directory that a user other
// than root or the agent owns, or that its group or any user may write
// (without the sticky bit), lets that user replace what it holds, and is
// named. A symbolic link is followed only when nothing on the way so far
// is so exposed and root or the agent made it (certbot's live/ links are);
// one that another user could have made or replaced is refused. The file
// itself is opened with O_NONBLOCK and O_NOFOLLOW and must be a regular
// file: a FIFO, a socket or a device is refused with the reason.
#pragma once

#include <string>
#include <sys/stat.h>
#include <vector>

#include "result.hpp"
#include "secret_bytes.hpp"
#include "unique_fd.hpp"

namespace tlsup {

struct ConfiguredFile {
	UniqueFd fd;    // open for reading, O_NONBLOCK
	struct stat st; // of that regular file
	// Each directory on the way that another user may change, in words
	// for a warning ("directory /srv/certs belongs to uid 1001, who may
	// replace what it holds (chown root)"). Empty when none.
	std::vector<std::string> exposure;
};

// Opens PATH (absolute) as above. ENOKEY when it does not exist; EINVAL
// when it is not a regular file or a link is refused; ELOOP past 40 links;
// errno otherwise. Every reason names the path.
Result<ConfiguredFile> open_configured_file(const std::string &path);

// A configured directory (where the control socket is made), walked the same
// way. OWN: what lets another user change the directory itself (its owner,
// group or other write, sticky or not: in a sticky directory others may
// still create names); ANCESTORS: the directories on the way that do.
struct ConfiguredDirectory {
	UniqueFd fd; // O_PATH
	struct stat st;
	std::vector<std::string> ancestors;
	std::vector<std::string> own;
};
Result<ConfiguredDirectory> open_configured_directory(const std::string &path);

// What is wrong with who may touch a configured file: a private key (SECRET)
// that any user may read, or any file that a user other than root or the
// agent's (EUID) may replace. Empty when nothing is; the words say which
// bits and what to do. Group read of a key is fine (Debian's ssl-cert).
std::string file_exposure(const struct stat &st, bool secret, uid_t euid);

// The whole of a configured file, at most MAX bytes (EINVAL beyond).
Result<std::string> read_configured_file(const std::string &path, size_t max = 16u << 20);

// The same for a file that holds key material (a PEM private key): read
// straight into wiped memory, no intermediate string or stack buffer.
Result<SecretBytes> read_secret_file(const std::string &path, size_t max = 16u << 20);

} // namespace tlsup
