// SPDX-License-Identifier: GPL-2.0
//
// What the agent needs from the kernel side: readiness notifications and
// ACCEPT (the acceptor's channel), DONE (each worker's). The generic
// netlink implementation is GenlChannel; tests drive workers through a fake.
#pragma once

#include <optional>
#include <vector>

#include "netlink_messages.hpp"
#include "result.hpp"

namespace tlsup {

class HandshakeChannel {
public:
	virtual ~HandshakeChannel() = default;

	// Readable when notifications (READY) may be waiting; -1 for a channel
	// that hears none (a worker's).
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

	// One DONE. An error here is the kernel's refusal, or one to send it;
	// a channel that does not wait for the kernel's answer reports later
	// refusals through answer_fd() and done_refusals() instead.
	virtual Result<void> done(const DoneCommand &msg) = 0;

	// Readable when the kernel refused a DONE whose answer done() did not
	// wait for; -1 when done() waits.
	virtual int answer_fd() const { return -1; }
	// The refusals that arrived since the last call, each naming its fd.
	virtual std::vector<Error> done_refusals() { return {}; }
};

} // namespace tlsup
