// SPDX-License-Identifier: GPL-2.0
#include "worker_rig.hpp"

#include <gtest/gtest.h>

#include "keyring.hpp"

namespace tlsup::test {

WorkerRig::WorkerRig(unsigned limit, ReverseResolver::Lookup lookup, bool tlsup_ko)
    : admission(limit), resolver(std::make_unique<ReverseResolver>(1, std::move(lookup))),
      accept_keyrings(AcceptKeyrings::create(log.log(), tlsup_ko).value()),
      shared{log.log(), creds,    keyrings,    admission,       stats,
             *resolver, settings, peer_keys(), *accept_keyrings} {
	// As the agent does before its threads start: one process keyring
	// shared by every worker (see ensure_process_keyring()).
	EXPECT_TRUE(ensure_process_keyring().ok());
	ConfigSpec spec;
	spec.server_cert = spec.server_key = "server";
	creds.replace(make_credentials(spec));
	shared.install = [this](int, const TrafficSecrets &t) -> Result<void> {
		installs++;
		EXPECT_TRUE(ktls_supports(t.cipher));
		return {};
	};
}

WorkerRig::~WorkerRig() {
	if (acceptor)
		acceptor->stop();
	for (auto &w : workers)
		w->stop();
	acceptor.reset();
	resolver.reset();
	workers.clear();
}

FakeChannel *WorkerRig::start(unsigned n, unsigned worker_nice, bool acceptor_realtime) {
	std::vector<Worker *> raw;
	for (unsigned i = 0; i < n; i++) {
		auto ch = std::make_unique<FakeChannel>(kernel);
		channels.push_back(ch.get());
		auto w = Worker::create(i, shared, std::move(ch));
		EXPECT_TRUE(w.ok());
		workers.push_back(std::move(w).value());
		raw.push_back(workers.back().get());
	}
	auto ch = std::make_unique<FakeChannel>(kernel);
	FakeChannel *notify = ch.get();
	channels.push_back(notify);
	auto a = Acceptor::create(shared, std::move(ch), raw, acceptor_log);
	EXPECT_TRUE(a.ok());
	acceptor = std::move(a).value();
	for (auto &w : workers)
		w->start(worker_nice);
	acceptor->start({}, acceptor_realtime);
	return notify;
}

} // namespace tlsup::test
