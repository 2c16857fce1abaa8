// SPDX-License-Identifier: GPL-2.0
//
// Another local user, for attacker's tests: a child process that drops to a
// uid of its own (with a session keyring of its own), does what the test
// asks -- make keyrings and keys under its own name, swap files in a
// directory it owns -- and keeps what it made alive until the object goes.
// The host tests run as root; without root these tests skip themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace tlsup::test {

class LocalUser {
public:
	// A uid no account on the machine has: nothing it makes can be taken for
	// a real user's.
	static constexpr uid_t kAttacker = 61234;

	// What the child returns: serials, counts, or an error (errno != 0
	// with the step that failed).
	struct Outcome {
		std::vector<int64_t> values;
		int error = 0;
		std::string step;
		std::string text; // anything else the child reports
	};
	using Act = std::function<Outcome()>;

	// Runs ACT in a child running as UID (and gid UID, no other groups);
	// UID 0 is another root process (its own session keyring, no setuid).
	LocalUser(uid_t uid, Act act);
	~LocalUser(); // the child lets go of what it made and exits
	LocalUser(const LocalUser &) = delete;
	LocalUser &operator=(const LocalUser &) = delete;

	bool ok() const { return out_.error == 0; }
	// "STEP: strerror" when the child failed.
	std::string why() const;
	const std::vector<int64_t> &values() const { return out_.values; }
	int64_t value(size_t i = 0) const { return i < out_.values.size() ? out_.values[i] : -1; }
	const std::string &text() const { return out_.text; }

	// Whether attacker's tests can run here (root, a kernel with keyrings).
	static bool available(std::string *why_not);

private:
	pid_t pid_ = -1;
	int release_ = -1; // closing it lets the child exit
	Outcome out_;
};

} // namespace tlsup::test
