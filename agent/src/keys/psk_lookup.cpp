// SPDX-License-Identifier: GPL-2.0
#include "psk_lookup.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include "keyring.hpp"

namespace tlsup {

namespace {

// The key serial IDENTITY names in the scope, or why none.
Result<key_serial_t> find_server_key(const PskScope &scope, const std::string &identity) {
	for (key_serial_t id : scope.kernel_named) {
		auto d = describe_key(id);
		if (d && d->description == identity &&
		    (d->type == kPskKeyType || d->type == "user"))
			return id;
	}
	// Never the process or session keyring: they hold what every consumer
	// and the agent itself put there.
	std::vector<key_serial_t> rings;
	if (scope.request_keyring > 0)
		rings.push_back(scope.request_keyring);
	rings.insert(rings.end(), scope.keyrings.begin(), scope.keyrings.end());
	for (key_serial_t ring : rings) {
		std::span<const key_serial_t> one(&ring, 1);
		if (key_serial_t id = search_keyrings(one, kPskKeyType, identity))
			return id;
		bool for_psks = std::find(scope.psk_keyrings.begin(), scope.psk_keyrings.end(),
		                          ring) != scope.psk_keyrings.end();
		if (key_serial_t id = for_psks ? search_keyrings(one, "user", identity) : 0)
			return id;
	}
	return make_error(EKEYREJECTED, "no key for PSK identity '%s'", identity.c_str());
}

} // namespace

Result<void> psk_usable(size_t key_length) {
#ifndef TLSUP_HAVE_PSK_CREDENTIALS2
	if (key_length == 48)
		return make_error(ENOKEY, "a 48-byte PSK needs SHA-384 binders, which this "
		                          "GnuTLS (< 3.8.1) cannot compute");
#else
	(void)key_length;
#endif
	return {};
}

Result<Psk> find_server_psk(const PskScope &scope, const std::string &identity) {
	if (identity.find('\0') != std::string::npos)
		return make_error(EKEYREJECTED, "PSK identity contains a NUL byte");
	if (is_agent_key_name(identity))
		return make_error(EKEYREJECTED,
		                  "PSK identity '%s' is refused: tlsupd names its own keys so",
		                  identity.c_str());
	key_serial_t serial = TRY(find_server_key(scope, identity));
	auto bytes = read_key(serial);
	if (!bytes)
		return make_error(EKEYREJECTED, "PSK identity '%s': %s", identity.c_str(),
		                  bytes.error().reason.c_str());
	if (bytes->size() != 32 && bytes->size() != 48)
		return make_error(EKEYREJECTED,
		                  "PSK identity '%s' (key %d): %zu bytes is no PSK (32 or 48)",
		                  identity.c_str(), serial, bytes->size());
	if (auto usable = psk_usable(bytes->size()); !usable)
		return make_error(ENOKEY, "PSK identity '%s' (key %d): %s", identity.c_str(),
		                  serial, usable.error().reason.c_str());
	return Psk{serial, identity, std::move(bytes).value()};
}

Result<Psk> choose_client_psk(std::span<const key_serial_t> identities, const SkippedPsk &skipped) {
	auto usable = [](key_serial_t id) -> Result<Psk> {
		auto identity = TRY(key_description(id));
		auto key = TRY(read_key(id));
		if (key.empty() || identity.empty())
			return make_error(ENOKEY, "PSK %d has an empty identity or key", id);
		if (auto ok = psk_usable(key.size()); !ok)
			return make_error(ENOKEY, "PSK %d: %s", id, ok.error().reason.c_str());
		return Psk{id, std::move(identity), std::move(key)};
	};
	std::optional<Error> last;
	for (key_serial_t id : identities) {
		auto psk = usable(id);
		if (psk)
			return psk;
		skipped(id, psk.error());
		last = psk.error();
	}
	if (last)
		return make_error(ENOKEY, "no usable PSK among %zu identities (last: %s)",
		                  identities.size(), last->reason.c_str());
	return make_error(ENOKEY, "no PSK identity in the request");
}

} // namespace tlsup
