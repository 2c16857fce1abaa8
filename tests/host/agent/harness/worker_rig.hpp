// SPDX-License-Identifier: GPL-2.0
//
// Workers and the acceptor as the agent runs them, against a FakeKernel:
// what they share (credentials for a server x509 request from the test
// PKI, keyrings, admission, stats, reverse DNS), kTLS installation counted
// instead of done, and a FakeChannel each. For the worker tests and the
// attacker's tests of the acceptor.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "acceptor.hpp"
#include "fake_channel.hpp"
#include "keyring_linker.hpp"
#include "test_support.hpp"
#include "worker.hpp"

namespace tlsup::test {

class WorkerRig {
public:
	// LIMIT: the in-flight bound; LOOKUP: reverse DNS; TLSUP_KO: the
	// kernel names the request's keyring in ACCEPT (tlsup.ko) or not.
	explicit WorkerRig(unsigned limit = 64,
	                   ReverseResolver::Lookup lookup = ReverseResolver::system_lookup,
	                   bool tlsup_ko = false);
	~WorkerRig();
	WorkerRig(const WorkerRig &) = delete;
	WorkerRig &operator=(const WorkerRig &) = delete;

	// N workers (each with a channel for its DONEs, each making itself
	// WORKER_NICE nicer) and the acceptor (SCHED_FIFO if ACCEPTOR_REALTIME),
	// started; the acceptor's channel, where READY goes.
	FakeChannel *start(unsigned n = 1, unsigned worker_nice = 0,
	                   bool acceptor_realtime = false);

	CaptureLog log;
	// The acceptor's own log (the agent gives it a DeferredLog's); null:
	// the workers' (log).
	const Log *acceptor_log = nullptr;
	CredentialStore creds;
	KeyringStore keyrings;
	Admission admission;
	Stats stats;
	std::unique_ptr<ReverseResolver> resolver;
	WorkerSettings settings;
	std::unique_ptr<AcceptKeyrings> accept_keyrings;
	WorkerShared shared;
	FakeKernel kernel;
	std::atomic<int> installs{0}; // by shared.install, which checks the cipher
	std::vector<std::unique_ptr<Worker>> workers;
	std::unique_ptr<Acceptor> acceptor;
	std::vector<FakeChannel *> channels; // the workers', then the acceptor's
};

} // namespace tlsup::test
