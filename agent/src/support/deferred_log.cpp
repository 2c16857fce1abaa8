// SPDX-License-Identifier: GPL-2.0
#include "deferred_log.hpp"

#include <mutex>

namespace tlsup {

DeferredLog::DeferredLog(const Log &target, Post post)
    : target_(target), post_(std::move(post)),
      log_(Log::Sink([this](const LogRecord &r) { enqueue(r); })) {
	log_.set_level(target.level());
}

DeferredLog::~DeferredLog() {
	drain(); // nothing queued is lost
}

uint64_t DeferredLog::dropped() const {
	std::lock_guard lock(mu_);
	return dropped_total_;
}

void DeferredLog::write_directly() {
	{
		std::lock_guard lock(mu_);
		direct_ = true;
	}
	drain();
}

void DeferredLog::enqueue(const LogRecord &record) {
	bool post = false;
	{
		std::unique_lock lock(mu_);
		if (direct_) {
			lock.unlock();
			target_.write(record);
			return;
		}
		if (queue_.size() >= kMaxQueued) {
			dropped_++;
			dropped_total_++;
			return;
		}
		Line line{record.priority, std::string(record.message), std::nullopt};
		if (record.fields)
			line.fields = *record.fields;
		queue_.push_back(std::move(line));
		post = !posted_;
		posted_ = true;
	}
	if (post)
		post_([this] { drain(); });
}

void DeferredLog::drain() {
	std::deque<Line> lines;
	uint64_t dropped;
	{
		std::lock_guard lock(mu_);
		lines.swap(queue_);
		dropped = dropped_;
		dropped_ = 0;
		posted_ = false;
	}
	for (const auto &l : lines)
		target_.write(LogRecord{l.priority, l.message, l.fields ? &*l.fields : nullptr});
	if (dropped)
		LOG_WARN(target_,
		         "%llu log line(s) of the acceptor dropped: more than %zu were waiting "
		         "for the journal",
		         static_cast<unsigned long long>(dropped), kMaxQueued);
}

} // namespace tlsup
