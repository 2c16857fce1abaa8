// SPDX-License-Identifier: GPL-2.0
#include "stats.hpp"

#include <bit>
#include <cerrno>
#include <cmath>

namespace tlsup {

size_t LatencyHistogram::bucket_of(uint64_t us) {
	if (us < 4)
		return static_cast<size_t>(us);
	unsigned e = 63 - static_cast<unsigned>(std::countl_zero(us)); // floor(log2), >= 2
	size_t sub = static_cast<size_t>((us >> (e - 2)) & 3);
	size_t idx = 4 + (e - 2) * 4 + sub;
	return idx < kBuckets ? idx : kBuckets - 1;
}

uint64_t LatencyHistogram::bucket_upper(size_t index) {
	if (index < 4)
		return index;
	size_t e = (index - 4) / 4 + 2;
	uint64_t sub = (index - 4) % 4;
	uint64_t lower = (uint64_t{4} + sub) << (e - 2);
	return lower + (uint64_t{1} << (e - 2)) - 1;
}

uint64_t LatencyHistogram::quantile(const Counts &counts, double q) {
	uint64_t total = 0;
	for (uint64_t c : counts)
		total += c;
	if (total == 0)
		return 0;
	auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (size_t i = 0; i < counts.size(); i++) {
		seen += counts[i];
		if (seen >= rank)
			return bucket_upper(i);
	}
	return bucket_upper(counts.size() - 1);
}

void Stats::record_done(int status, std::chrono::microseconds latency) {
	done_[status_slot(status)].fetch_add(1, std::memory_order_relaxed);
	auto us = latency.count() < 0 ? 0 : static_cast<uint64_t>(latency.count());
	latency_[LatencyHistogram::bucket_of(us)].fetch_add(1, std::memory_order_relaxed);
}

void Stats::record_accept_latency(std::chrono::microseconds latency) {
	auto us = latency.count() < 0 ? 0 : static_cast<uint64_t>(latency.count());
	accept_latency_[LatencyHistogram::bucket_of(us)].fetch_add(1, std::memory_order_relaxed);
}

StatsSnapshot Stats::snapshot() const {
	StatsSnapshot s;
	for (size_t i = 0; i < kStatusSlots; i++)
		s.done[i] = done_[i].load(std::memory_order_relaxed);
	s.ready = ready_.load(std::memory_order_relaxed);
	s.overruns = overruns_.load(std::memory_order_relaxed);
	s.accepted = accepted_.load(std::memory_order_relaxed);
	s.accept_errors = accept_errors_.load(std::memory_order_relaxed);
	s.done_errors = done_errors_.load(std::memory_order_relaxed);
	s.starved = starved_.load(std::memory_order_relaxed);
	s.early_steps = early_steps_.load(std::memory_order_relaxed);
	s.burst_readies = burst_readies_.load(std::memory_order_relaxed);
	s.acceptor_realtime = acceptor_rt_.load(std::memory_order_relaxed);
	for (size_t i = 0; i < LatencyHistogram::kBuckets; i++) {
		s.latency[i] = latency_[i].load(std::memory_order_relaxed);
		s.accept_latency[i] = accept_latency_[i].load(std::memory_order_relaxed);
	}
	return s;
}

std::string StatsSnapshot::render() const {
	std::string out;
	auto line = [&](const std::string &k, uint64_t v) {
		out += k + " " + std::to_string(v) + "\n";
	};
	line("workers", workers);
	line("inflight", inflight);
	line("max_inflight", max_inflight);
	line("ready", ready);
	line("ready_overruns", overruns);
	line("accepted", accepted);
	line("accept_errors", accept_errors);
	line("done_errors", done_errors);
	line("accept_paused", starved);
	line("accept_first_steps", early_steps);
	line("accept_burst_readies", burst_readies);
	line("acceptor_realtime", acceptor_realtime ? 1 : 0);
	uint64_t total = 0;
	for (size_t i = 0; i < kStatusSlots; i++) {
		const char *name = i < kDoneStatusCount ? kDoneStatuses[i].name : "other";
		line(std::string("done.") + name, done[i]);
		total += done[i];
	}
	line("done.total", total);
	line("latency_us.p50", LatencyHistogram::quantile(latency, 0.50));
	line("latency_us.p90", LatencyHistogram::quantile(latency, 0.90));
	line("latency_us.p99", LatencyHistogram::quantile(latency, 0.99));
	line("accept_latency_us.p50", LatencyHistogram::quantile(accept_latency, 0.50));
	line("accept_latency_us.p99", LatencyHistogram::quantile(accept_latency, 0.99));
	// The histogram itself, its non-empty buckets by their upper bound:
	// two readings give the quantiles of what came between them (a
	// storm's, without the set-up before it).
	for (size_t i = 0; i < accept_latency.size(); i++)
		if (accept_latency[i])
			line("accept_latency_us.le." +
			             std::to_string(LatencyHistogram::bucket_upper(i)),
			     accept_latency[i]);
	return out;
}

} // namespace tlsup
