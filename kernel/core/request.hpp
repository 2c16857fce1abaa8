// SPDX-License-Identifier: GPL-2.0
// One handshake request: the consumer's parameters, the kernel objects it
// pins, and the exactly-once completion that decides who owns the callback.
#pragma once

#include <tlsup/core.h>

#include "../../include/uapi/linux/handshake.h"
#include "../kstd/atomic.hpp"
#include "../kstd/expected.hpp"
#include "../kstd/list.hpp"
#include "../kstd/new.hpp"
#include "../kstd/ref_ptr.hpp"
#include "../kstd/span.hpp"
#include "../kstd/types.hpp"

namespace tlsup {

class Pernet;

// How a request reached its end; decides the callback and the counters.
enum class Ending : kstd::u8 {
	Done,         // the agent's DONE
	Cancel,       // tls_handshake_cancel won: no callback
	Expire,       // the kernel deadline passed
	Drain,        // the network namespace is going away
	AcceptFailed, // ACCEPT could not hand the socket out
	Withdrawn,    // submit failed after publishing: no callback
};

// Where a request sits, under its Pernet's lock.
enum class Place : kstd::u8 {
	None,     // not yet queued, or retired
	Pending,  // waiting for ACCEPT
	Accepted, // handed to an agent
	Batch,    // taken by the reaper or the drain, about to be completed
};

class Request {
public:
	// Validates @args (-EINVAL), then allocates with the caller's gfp and
	// takes the module reference the request keeps until it is freed. The
	// request takes over the caller's reference on @pn, also on failure.
	// The result holds one reference, the caller's.
	static kstd::Expected<kstd::RefPtr<Request>> create(const tlsup_submit &args, kstd::Gfp gfp,
	                                                    Pernet &pn);

	Request(const Request &) = delete;
	Request &operator=(const Request &) = delete;

	// The index holds one reference from publishing until sk_destruct;
	// anyone working on a request outside a lock holds another.
	void get() { refs_.get(); }
	void put();
	// For /proc/net/tlsup only: a snapshot.
	kstd::s32 refs() const { return refs_.read(); }

	// Takes the file and sock references the request keeps until it ends.
	void pin();
	void unpin();
	// Exactly once per request: the first caller wins, runs the consumer's
	// callback (unless Cancel), retires the request from its namespace and
	// drops the pins. Returns false if someone else already won.
	bool complete(int status, kstd::Span<const kstd::s32> remote, Ending how);
	// Submit's failure path: wins the completion without a callback and
	// without touching the pins (the caller drops them once the request is
	// unpublished). Under the Pernet lock.
	bool claim_withdrawn();

	bool completed() const { return flags_.load() & kCompleted; }
	bool cancelled() const { return flags_.load() & kCancelled; }
	bool accepted() const { return flags_.load() & kAccepted; }
	void mark_accepted() { flags_.fetch_or(kAccepted); }
	// Clears and returns the "session established" bit (for close_notify).
	bool take_session() { return flags_.fetch_and(~kSession) & kSession; }

	tlsup_ksock *sk() const { return sk_; }
	tlsup_kfile *file() const { return file_; }
	Pernet &pernet() const { return *pernet_; }
	kstd::u64 id() const { return id_; }

	void *orig_destruct() const { return orig_destruct_; }
	void set_orig_destruct(void *d) { orig_destruct_ = d; }

	kstd::u32 handler_class() const { return HANDSHAKE_HANDLER_CLASS_TLSHD; }
	kstd::u32 timeout_ms() const { return timeout_ms_; }
	kstd::u32 msg_type() const { return msg_type_; }
	kstd::u32 auth_mode() const { return auth_mode_; }
	kstd::s32 keyring() const { return keyring_; }
	const char *peername() const { return has_peername_ ? peername_ : nullptr; }
	// What ACCEPT tells the agent about this request (DESIGN §1).
	tlsup_accept_reply accept_reply(int sockfd) const;

	kstd::u64 submit_ms() const { return submit_ms_; }
	kstd::u64 deadline_ms() const { return deadline_ms_; }
	void set_times(kstd::u64 now_ms);

	// Lists, under the owning Pernet's lock (queue_link, live_link) or the
	// index's lock (index_link). live_link: on the Pernet's list of its
	// published requests from publish() until unpublish() or sk_destruct,
	// in flight or ended, for /proc/net/tlsup. Public so KSTD_LIST can
	// find them.
	kstd::ListNode queue_link;
	kstd::ListNode index_link;
	kstd::ListNode live_link;
	Place place = Place::None;
	bool retired = false;
	// How and when it ended (set by retire(), under the Pernet lock): an
	// ended request lives on until its socket is destroyed, and
	// /proc/net/tlsup says what it is waiting for.
	Ending ended_how = Ending::Done;
	int ended_status = 0;
	kstd::u64 ended_ms = 0;

private:
	static constexpr kstd::u32 kCompleted = 1u << 0;
	static constexpr kstd::u32 kCancelled = 1u << 1;
	static constexpr kstd::u32 kAccepted = 1u << 2;
	static constexpr kstd::u32 kSession = 1u << 3;

	explicit Request(Pernet &pn) : pernet_(&pn) {}
	~Request() = default;
	friend void kstd::destroy<Request>(Request *);

	bool claim(kstd::u32 bits);

	kstd::RefCount refs_{1};
	kstd::Atomic<kstd::u32> flags_{0};

	tlsup_ksock *sk_ = nullptr;
	tlsup_kfile *file_ = nullptr;
	void *orig_destruct_ = nullptr;
	Pernet *pernet_;
	kstd::u64 id_ = 0;
	kstd::u64 submit_ms_ = 0;
	kstd::u64 deadline_ms_ = 0; // 0: none

	tlsup_done_fn done_ = nullptr;
	void *data_ = nullptr;
	kstd::u32 msg_type_ = 0;
	kstd::u32 auth_mode_ = 0;
	kstd::u32 timeout_ms_ = 0;
	kstd::s32 keyring_ = 0;
	kstd::s32 cert_ = 0;
	kstd::s32 privkey_ = 0;
	kstd::u32 num_peerids_ = 0;
	kstd::s32 peerids_[TLSUP_MAX_PEERIDS] = {};
	bool has_peername_ = false;
	char peername_[TLSUP_PEERNAME_MAX + 1] = {};
};

using RequestRef = kstd::RefPtr<Request>;

// Argument rules of DESIGN §2.1, separate so the tests can call them.
kstd::Expected<void> validate_submit(const tlsup_submit &args);

} // namespace tlsup
