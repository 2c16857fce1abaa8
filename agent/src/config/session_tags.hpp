// SPDX-License-Identifier: GPL-2.0
//
// ktls-utils 1.4's session tags (/etc/tlshd/tags.d, tls-session-tags(7)):
// tlsupd finds the files tlshd would read and says that it does not apply
// them. tlshd sends a tag only as a DONE TAG attribute, and no kernel
// tlsupd runs on hands one to a consumer: upstream 6.12's DONE policy ends
// at REMOTE_AUTH and refuses the attribute, tlsup.ko accepts and ignores it.
#pragma once

#include <string>
#include <vector>

namespace tlsup {

constexpr const char *kTlshdTagsDir = "/etc/tlshd/tags.d";

// The files tlshd reads from DIR: regular entries ending in ".yml" or
// ".yaml" (tlshd_tags_read_directory), sorted; none when DIR is missing.
std::vector<std::string> session_tag_files(const std::string &dir);

} // namespace tlsup
