// SPDX-License-Identifier: GPL-2.0
#include "engine_run.hpp"

#include <sys/socket.h>

namespace tlsup::test {

SessionSetup engine_setup(Role role, Auth auth, std::shared_ptr<const Credentials> credentials,
                          const Priorities &priorities) {
	SessionSetup s;
	s.role = role;
	s.auth = auth;
	s.credentials = std::move(credentials);
	s.priorities = &priorities;
	s.peer_keys = &peer_keys();
	return s;
}

EngineRun run_engine(SessionSetup setup, std::pair<UniqueFd, UniqueFd> fds, PeerOptions peer,
                     const Log &log, PeerAfter after) {
	EngineRun r;
	r.agent_fd = std::move(fds.first);
	setup.fd = r.agent_fd.get();
	auto p = std::make_unique<Peer>(std::move(fds.second), std::move(peer));
	auto session = TlsSession::create(std::move(setup), log);
	if (!session) {
		r.result = session.error();
	} else {
		r.session = std::move(session).value();
		r.result = drive(*r.session, r.agent_fd.get());
	}
	if (!r.result)
		::shutdown(r.agent_fd.get(), SHUT_RDWR); // unblock the peer
	if (after == PeerAfter::KeepRunning)
		r.running_peer = std::move(p);
	else
		r.peer = p->wait();
	return r;
}

PeerOptions server_peer(const std::string &cert) {
	PeerOptions p;
	p.server = true;
	p.cert = p.key = cert;
	return p;
}

PeerOptions verifying_server() {
	PeerOptions p = server_peer("server");
	p.ca = "ca.pem";
	p.require_client_cert = true;
	return p;
}

PeerOptions client_peer(const std::string &cert) {
	PeerOptions p;
	p.server = false;
	if (!cert.empty())
		p.cert = p.key = cert;
	p.ca = "ca.pem";
	p.verify_name = "server.test";
	return p;
}

namespace {

constexpr const char *kPskPriority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK:+PSK";

} // namespace

PeerOptions psk_server(const std::string &identity, std::vector<uint8_t> key) {
	PeerOptions p;
	p.server = true;
	p.priority = kPskPriority;
	p.psk_keys[identity] = std::move(key);
	return p;
}

PeerOptions psk_client(const std::string &identity, std::vector<uint8_t> key) {
	PeerOptions p;
	p.server = false;
	p.priority = kPskPriority;
	p.psk_identity = identity;
	p.psk_key = std::move(key);
	return p;
}

} // namespace tlsup::test
