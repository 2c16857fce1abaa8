// SPDX-License-Identifier: GPL-2.0
//
// The DONE vocabulary: the one list of the statuses tlsupd sends the
// kernel, with their names. A positive errno; the consumer sees its
// negation. The kernel core counts the same ones (enum tlsup_status_bucket,
// /proc/net/tlsup); EOPNOTSUPP is counted there as "other".
#pragma once

#include <cerrno>
#include <cstddef>

namespace tlsup {

struct DoneStatus {
	int status;
	const char *name;
	const char *meaning;
};

constexpr DoneStatus kDoneStatuses[] = {
        {0, "ok", "kTLS installed"},
        {EACCES, "EACCES", "peer rejected, verification failed, or the peer refused"},
        {ENOKEY, "ENOKEY", "key material missing or unusable"},
        {EKEYREJECTED, "EKEYREJECTED", "PSK identity unknown"},
        {ETIMEDOUT, "ETIMEDOUT", "deadline, or the peer closed mid-handshake"},
        {EINVAL, "EINVAL", "bad request parameters"},
        {ENOMEM, "ENOMEM", "out of memory"},
        {EIO, "EIO", "anything unexpected, kTLS set-up included"},
        {EOPNOTSUPP, "EOPNOTSUPP", "the socket is not TCP"},
};
constexpr size_t kDoneStatusCount = sizeof(kDoneStatuses) / sizeof(kDoneStatuses[0]);

constexpr bool is_done_status(int status) {
	for (const auto &s : kDoneStatuses)
		if (s.status == status)
			return true;
	return false;
}

// "EACCES", ...; "other" for a status outside the vocabulary.
constexpr const char *status_name(int status) {
	for (const auto &s : kDoneStatuses)
		if (s.status == status)
			return s.name;
	return "other";
}

// Its index in kDoneStatuses, or kDoneStatusCount for "other".
constexpr size_t status_slot(int status) {
	for (size_t i = 0; i < kDoneStatusCount; i++)
		if (kDoneStatuses[i].status == status)
			return i;
	return kDoneStatusCount;
}

} // namespace tlsup
