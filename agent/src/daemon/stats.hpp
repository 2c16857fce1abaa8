// SPDX-License-Identifier: GPL-2.0
//
// Agent counters: handshakes by DONE status, notifications, accepts, and
// latency histograms (ACCEPT to DONE; READY read to ACCEPT reply). Workers update them with relaxed
// atomics; the control socket reads a snapshot.
#pragma once

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>

#include "done_status.hpp"

namespace tlsup {

// Log-linear buckets: four per power of two, in microseconds.
class LatencyHistogram {
public:
	static constexpr size_t kBuckets = 4 + 4 * 38;
	static size_t bucket_of(uint64_t us);
	// Upper bound (inclusive) of a bucket, in microseconds.
	static uint64_t bucket_upper(size_t index);

	using Counts = std::array<uint64_t, kBuckets>;
	// The upper bound of the bucket holding quantile Q (0 < Q <= 1), or 0
	// when empty.
	static uint64_t quantile(const Counts &counts, double q);
};

// One counter per DONE status (done_status.hpp), in its order, then "other".
constexpr size_t kStatusSlots = kDoneStatusCount + 1;

struct StatsSnapshot {
	std::array<uint64_t, kStatusSlots> done{};
	uint64_t ready = 0;    // READY notifications seen
	uint64_t overruns = 0; // ENOBUFS on the notification socket
	uint64_t accepted = 0;
	uint64_t accept_errors = 0;
	uint64_t done_errors = 0;   // DONE refused by the kernel
	uint64_t starved = 0;       // times ACCEPT paused at max_inflight
	uint64_t early_steps = 0;   // client first steps the acceptor took (start_early())
	uint64_t burst_readies = 0; // READYs found by reading again before a hand-over
	LatencyHistogram::Counts latency{};
	LatencyHistogram::Counts accept_latency{}; // READY read to ACCEPT reply
	unsigned inflight = 0;
	unsigned max_inflight = 0;
	unsigned workers = 0;
	bool acceptor_realtime = false; // the acceptor runs SCHED_FIFO/RR

	// "key value" lines, the control socket's reply.
	std::string render() const;
};

class Stats {
public:
	void record_done(int status, std::chrono::microseconds latency);
	void record_ready() { ready_.fetch_add(1, std::memory_order_relaxed); }
	void record_overrun() { overruns_.fetch_add(1, std::memory_order_relaxed); }
	void record_accepted() { accepted_.fetch_add(1, std::memory_order_relaxed); }
	void record_accept_error() { accept_errors_.fetch_add(1, std::memory_order_relaxed); }
	void record_done_error() { done_errors_.fetch_add(1, std::memory_order_relaxed); }
	void record_starved() { starved_.fetch_add(1, std::memory_order_relaxed); }
	void record_early_step() { early_steps_.fetch_add(1, std::memory_order_relaxed); }
	void record_burst_readies(uint64_t n) {
		burst_readies_.fetch_add(n, std::memory_order_relaxed);
	}
	void record_accept_latency(std::chrono::microseconds latency);
	void set_acceptor_realtime(bool rt) { acceptor_rt_.store(rt, std::memory_order_relaxed); }

	StatsSnapshot snapshot() const;

private:
	std::array<std::atomic<uint64_t>, kStatusSlots> done_{};
	std::atomic<uint64_t> ready_{0}, overruns_{0}, accepted_{0}, accept_errors_{0},
	        done_errors_{0}, starved_{0}, early_steps_{0}, burst_readies_{0};
	std::atomic<bool> acceptor_rt_{false};
	std::array<std::atomic<uint64_t>, LatencyHistogram::kBuckets> latency_{};
	std::array<std::atomic<uint64_t>, LatencyHistogram::kBuckets> accept_latency_{};
};

} // namespace tlsup
