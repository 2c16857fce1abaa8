// SPDX-License-Identifier: GPL-2.0
//
// What a worker needs from the kernel side: readiness notifications, the
// ACCEPT and DONE commands. The generic netlink implementation is
// GenlChannel; tests drive workers through a fake.
#pragma once

#include <optional>

#include "netlink_messages.hpp"
#include "result.hpp"

namespace tlsup {

class HandshakeChannel {
public:
	virtual ~HandshakeChannel() = default;

	// Readable when notifications (READY) may be waiting.
	virtual int notify_fd() const = 0;

	struct Notifications {
		unsigned ready = 0;    // READY for our handler class
		unsigned overruns = 0; // ENOBUFS: notifications were lost
		// A lost notification may have been a READY: run the ACCEPT
		// loop either way.
		bool should_accept() const { return ready > 0 || overruns > 0; }
	};

	// Reads every queued notification.
	virtual Result<Notifications> drain_notifications() = 0;

	// One ACCEPT. nullopt when nothing is pending (-EAGAIN). A decoded
	// reply may carry an error (malformed); its sockfd, if any, is ours.
	virtual Result<std::optional<AcceptDecode>> accept() = 0;

	// One DONE. Errors are the kernel's refusal (logged by the caller).
	virtual Result<void> done(const DoneCommand &msg) = 0;
};

} // namespace tlsup
