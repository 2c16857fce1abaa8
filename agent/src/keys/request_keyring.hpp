// SPDX-License-Identifier: GPL-2.0
//
// A request's own keyring. During ACCEPT the kernel links the consumer's
// ta_keyring into the accepting process's process keyring, which every
// worker thread shares, and nothing unlinks it: left there, one consumer's
// keys would be every later request's. tlsup.ko names the keyring in the
// ACCEPT reply (KEYRING); upstream 6.12 does not. So each ACCEPT runs in a
// window that owns the process keyring: its contents before and after tell
// which keyring this ACCEPT linked, and that keyring moves out of the
// process keyring into a holder keyring of the request's own, which goes
// when the request does. A keyring the agent holds already (tlsupd:linked:
// configured, or a consumer keyring such as .nvme) needs no holder; on
// tlsup.ko, where KEYRING names it, it also stays in the process keyring
// for as long as the agent holds it (no keyctl() per request).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "keyring.hpp"
#include "keyring_linker.hpp"
#include "log.hpp"
#include "pi_mutex.hpp"
#include "result.hpp"

namespace tlsup {

// Holds one request's keyring (possessed by the agent, as the kernel's link
// made it, for as long as the object lives). Move-only.
class RequestKeyring {
public:
	RequestKeyring() = default;
	RequestKeyring(key_serial_t keyring, key_serial_t holder, key_serial_t parent)
	    : keyring_(keyring), holder_(holder), parent_(parent) {}
	RequestKeyring(RequestKeyring &&o) noexcept { *this = std::move(o); }
	RequestKeyring &operator=(RequestKeyring &&o) noexcept;
	RequestKeyring(const RequestKeyring &) = delete;
	RequestKeyring &operator=(const RequestKeyring &) = delete;
	~RequestKeyring() { release(); }

	// The keyring the request's own lookups use; 0 for none.
	key_serial_t keyring() const { return keyring_; }
	void release();

private:
	key_serial_t keyring_ = 0;
	key_serial_t holder_ = 0; // our keyring that links keyring_
	key_serial_t parent_ = 0; // where holder_ is linked
};

class AcceptKeyrings {
public:
	// Start-up, after ensure_process_keyring(): creates the keyring that
	// holds the per-request holders ("tlsupd:requests").
	// KERNEL_NAMES_KEYRING: the kernel sends KEYRING whenever its ACCEPT
	// linked a keyring (tlsup.ko), so an ACCEPT without it linked none.
	// Upstream's links without saying: each ACCEPT reads the process
	// keyring once, after (what it held before is remembered).
	// LINKED: what tlsupd:linked holds (KeyringLinker's snapshots); a
	// request's keyring found there needs no holder of its own. Null: every
	// linked keyring gets one.
	static Result<std::unique_ptr<AcceptKeyrings>> create(const Log &log,
	                                                      bool kernel_names_keyring = false,
	                                                      const KeyringStore *linked = nullptr);

	// Every change tlsupd makes to its process keyring takes this lock, so
	// a window sees only its own ACCEPT's link; what the process keyring
	// held is read afresh after. (Configured and consumer keyrings live in
	// tlsupd:linked, made before the workers start; see KeyringLinker.)
	std::unique_lock<PiMutex> lock() {
		std::unique_lock l(mu_);
		known_valid_ = false;
		return l;
	}

	class Window {
	public:
		// After the ACCEPT: the request's keyring -- the KEYRING attribute
		// when the kernel sent one, else the keyring this ACCEPT linked
		// -- moved into a holder of its own. Keyrings the ACCEPT linked
		// leave the process keyring either way; one linked before (a
		// configured keyring the consumer names too) stays, and the
		// request uses it where it is.
		RequestKeyring claim(key_serial_t keyring_attribute);

	private:
		friend class AcceptKeyrings;
		Window(AcceptKeyrings &owner);
		AcceptKeyrings &owner_;
		std::unique_lock<PiMutex> lock_;
	};

	// Before an ACCEPT; the window closes when it goes out of scope.
	Window open_window() { return Window(*this); }

	key_serial_t holders() const { return holders_; }

private:
	AcceptKeyrings(key_serial_t holders, const Log &log, bool kernel_names_keyring,
	               const KeyringStore *linked)
	    : holders_(holders), log_(log), kernel_names_keyring_(kernel_names_keyring),
	      linked_(linked) {}
	// Under mu_: LINKED leaves the process keyring; AFTER (the process
	// keyring's contents read after the ACCEPT, upstream) becomes known_.
	void unlink_from_process(const std::vector<key_serial_t> &linked,
	                         std::vector<key_serial_t> &after);
	// Under mu_: every parked keyring the agent no longer holds leaves the
	// process keyring -- but CLAIMED, which the ACCEPT being claimed
	// names: that one is forgotten here and handled as this ACCEPT's link.
	void unpark(const std::function<bool(key_serial_t)> &held_by_agent, key_serial_t claimed);
	PiMutex mu_;
	key_serial_t holders_;
	const Log &log_;
	bool kernel_names_keyring_;
	const KeyringStore *linked_;
	uint64_t next_ = 1;
	// The process keyring's contents as the last window left them; read
	// again after lock() (under mu_).
	std::vector<key_serial_t> known_;
	bool known_valid_ = false;
	// tlsup.ko: keyrings tlsupd:linked holds that an ACCEPT linked into the
	// process keyring and that stay there (Window::claim()); in known_.
	std::vector<key_serial_t> parked_;
};

} // namespace tlsup
