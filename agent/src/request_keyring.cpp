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

Result<std::unique_ptr<AcceptKeyrings>> AcceptKeyrings::create(const Log &log) {
	key_serial_t holders =
	        add_key("keyring", "tlsupd:requests", nullptr, 0, KEY_SPEC_PROCESS_KEYRING);
	if (holders < 0)
		return make_error(errno, "cannot create keyring tlsupd:requests: %s",
		                  strerror(errno));
	return std::unique_ptr<AcceptKeyrings>(new AcceptKeyrings(holders, log));
}

AcceptKeyrings::Window::Window(AcceptKeyrings &owner) : owner_(owner), lock_(owner.mu_) {
	auto contents = keyring_contents(KEY_SPEC_PROCESS_KEYRING);
	readable_ = contents.has_value();
	if (contents)
		before_ = std::move(*contents);
}

RequestKeyring AcceptKeyrings::Window::claim(key_serial_t attribute) {
	std::vector<key_serial_t> linked;
	if (readable_) {
		auto after = keyring_contents(KEY_SPEC_PROCESS_KEYRING);
		if (after)
			for (key_serial_t k : *after)
				if (std::find(before_.begin(), before_.end(), k) == before_.end())
					linked.push_back(k);
	}
	key_serial_t mine = attribute > 0 ? attribute : linked.size() == 1 ? linked[0] : 0;
	if (attribute <= 0 && linked.size() > 1)
		LOG_WARN(owner_.log_, "one ACCEPT linked %zu keyrings; the request gets none",
		         linked.size());
	if (!mine && linked.empty())
		return {};

	std::string name = "tlsupd:request:" + std::to_string(owner_.next_++);
	key_serial_t holder = add_key("keyring", name.c_str(), nullptr, 0, owner_.holders_);
	if (holder < 0) {
		// Without a holder the request's keyring cannot leave the process
		// keyring without losing it; it stays, but no other request looks
		// there (lookups never read the process keyring).
		LOG_WARN(owner_.log_, "cannot create %s: %s; keyring %d stays linked", name.c_str(),
		         strerror(errno), mine);
		return RequestKeyring(mine, 0, 0);
	}
	std::vector<key_serial_t> hold = linked;
	if (mine && std::find(hold.begin(), hold.end(), mine) == hold.end())
		hold.push_back(mine);
	for (key_serial_t k : hold)
		if (keyctl_link(k, holder) < 0)
			LOG_WARN(owner_.log_, "cannot hold keyring %d for its request: %s", k,
			         strerror(errno));
	for (key_serial_t k : linked)
		if (keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING) < 0)
			LOG_WARN(owner_.log_,
			         "cannot unlink keyring %d from the process keyring: %s", k,
			         strerror(errno));
	return RequestKeyring(mine, holder, owner_.holders_);
}

} // namespace tlsup
