// SPDX-License-Identifier: GPL-2.0
#include "request_keyring.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace tlsup {

RequestKeyring &RequestKeyring::operator=(RequestKeyring &&o) noexcept {
	if (this != &o) {
		release();
		keyring_ = std::exchange(o.keyring_, 0);
		holder_ = std::exchange(o.holder_, 0);
		parent_ = std::exchange(o.parent_, 0);
	}
	return *this;
}

void RequestKeyring::release() {
	// The holder's last link goes: the kernel collects it, and with it
	// our link to the consumer's keyring.
	if (holder_)
		keyctl_unlink(holder_, parent_);
	keyring_ = holder_ = parent_ = 0;
}

Result<std::unique_ptr<AcceptKeyrings>>
AcceptKeyrings::create(const Log &log, bool kernel_names_keyring, const KeyringStore *linked) {
	key_serial_t holders =
	        add_key("keyring", "tlsupd:requests", nullptr, 0, KEY_SPEC_PROCESS_KEYRING);
	if (holders < 0)
		return make_error(errno, "cannot create keyring tlsupd:requests: %s",
		                  strerror(errno));
	return std::unique_ptr<AcceptKeyrings>(
	        new AcceptKeyrings(holders, log, kernel_names_keyring, linked));
}

AcceptKeyrings::Window::Window(AcceptKeyrings &owner) : owner_(owner), lock_(owner.mu_) {
	if (owner_.known_valid_)
		return;
	auto contents = keyring_contents(KEY_SPEC_PROCESS_KEYRING);
	owner_.known_valid_ = contents.has_value();
	owner_.known_ = contents ? std::move(*contents) : std::vector<key_serial_t>();
}

RequestKeyring AcceptKeyrings::Window::claim(key_serial_t attribute) {
	// A configured or consumer keyring is possessed through tlsupd:linked
	// already: it needs no holder of the request's own (3 keyctl() fewer
	// per request: the holder's add_key, its link, and its unlink after
	// DONE).
	auto snapshot = owner_.linked_ ? owner_.linked_->snapshot() : nullptr;
	auto held_by_agent = [&](key_serial_t k) {
		return snapshot && (std::find(snapshot->keyrings.begin(), snapshot->keyrings.end(),
		                              k) != snapshot->keyrings.end() ||
		                    std::find(snapshot->consumer.begin(), snapshot->consumer.end(),
		                              k) != snapshot->consumer.end());
	};
	owner_.unpark(held_by_agent, attribute);
	auto &known = owner_.known_;
	auto was_known = [&](key_serial_t k) {
		return std::find(known.begin(), known.end(), k) != known.end();
	};
	std::vector<key_serial_t> linked;
	std::vector<key_serial_t> after;
	if (owner_.kernel_names_keyring_) {
		// tlsup.ko names what it linked, and links nothing unnamed.
		if (attribute > 0 && owner_.known_valid_ && !was_known(attribute))
			linked.push_back(attribute);
	} else if (owner_.known_valid_) {
		auto contents = keyring_contents(KEY_SPEC_PROCESS_KEYRING);
		if (contents) {
			after = std::move(*contents);
			for (key_serial_t k : after)
				if (!was_known(k))
					linked.push_back(k);
		} else {
			owner_.known_valid_ = false;
		}
	}
	key_serial_t mine = attribute > 0 ? attribute : linked.size() == 1 ? linked[0] : 0;
	if (attribute <= 0 && linked.size() > 1)
		LOG_WARN(owner_.log_, "one ACCEPT linked %zu keyrings; the request gets none",
		         linked.size());
	if (!mine && linked.empty())
		return {};
	if (linked.empty() && owner_.known_valid_)
		// Linked before this ACCEPT (configured): it stays there, and so
		// possessed, for this request as for the agent.
		return RequestKeyring(mine, 0, 0);

	std::vector<key_serial_t> hold = linked;
	if (mine && std::find(hold.begin(), hold.end(), mine) == hold.end())
		hold.push_back(mine);
	if (std::all_of(hold.begin(), hold.end(), held_by_agent)) {
		if (owner_.kernel_names_keyring_ && owner_.known_valid_) {
			// tlsup.ko names the request's keyring, so nothing needs the
			// process keyring to show this ACCEPT's link: it stays
			// (parked), no more possessed than through tlsupd:linked, and
			// the next request of this consumer costs no keyctl(). It
			// leaves once the agent no longer holds it (unpark()).
			for (key_serial_t k : linked) {
				known.push_back(k);
				owner_.parked_.push_back(k);
			}
			return RequestKeyring(mine, 0, 0);
		}
		// Upstream: it must leave, or the next ACCEPT's link of it would
		// not show.
		owner_.unlink_from_process(linked, after);
		return RequestKeyring(mine, 0, 0);
	}

	std::string name = "tlsupd:request:" + std::to_string(owner_.next_++);
	key_serial_t holder = add_key("keyring", name.c_str(), nullptr, 0, owner_.holders_);
	if (holder < 0) {
		// Without a holder the request's keyring cannot leave the process
		// keyring without losing it; it stays, but no other request looks
		// there (lookups never read the process keyring).
		LOG_WARN(owner_.log_, "cannot create %s: %s; keyring %d stays linked", name.c_str(),
		         strerror(errno), mine);
		owner_.known_valid_ = false;
		return RequestKeyring(mine, 0, 0);
	}
	for (key_serial_t k : hold)
		if (keyctl_link(k, holder) < 0)
			LOG_WARN(owner_.log_, "cannot hold keyring %d for its request: %s", k,
			         strerror(errno));
	owner_.unlink_from_process(linked, after);
	return RequestKeyring(mine, holder, owner_.holders_);
}

void AcceptKeyrings::unpark(const std::function<bool(key_serial_t)> &held_by_agent,
                            key_serial_t claimed) {
	std::erase_if(parked_, [&](key_serial_t k) {
		if (held_by_agent(k))
			return false;
		// No longer configured, or no longer trusted (KeyringLinker
		// unlinked it from tlsupd:linked): it leaves the process keyring
		// too. The request whose ACCEPT names it now gets it as any
		// keyring its ACCEPT linked: in a holder of its own.
		if (k != claimed && keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING) < 0 &&
		    errno != ENOENT) {
			LOG_WARN(log_, "cannot unlink keyring %d from the process keyring: %s", k,
			         strerror(errno));
			known_valid_ = false; // read it again next time
		}
		std::erase(known_, k);
		return true;
	});
}

void AcceptKeyrings::unlink_from_process(const std::vector<key_serial_t> &linked,
                                         std::vector<key_serial_t> &after) {
	for (key_serial_t k : linked)
		if (keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING) < 0) {
			LOG_WARN(log_, "cannot unlink keyring %d from the process keyring: %s", k,
			         strerror(errno));
			known_valid_ = false; // read it again next time
		}
	// What the process keyring holds now: as before, less what left.
	if (!kernel_names_keyring_ && known_valid_) {
		std::erase_if(after, [&](key_serial_t k) {
			return std::find(linked.begin(), linked.end(), k) != linked.end();
		});
		known_ = std::move(after);
	}
}

} // namespace tlsup
