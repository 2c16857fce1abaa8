// SPDX-License-Identifier: GPL-2.0
//
// The record-boundary guard on its own: however GnuTLS asks and however
// the bytes trickle in, no read crosses the end of a record.
#include <gtest/gtest.h>
#include <random>
#include <vector>

#include "record_guard.hpp"

namespace tlsup {
namespace {

std::vector<uint8_t> record(uint8_t type, size_t body) {
	std::vector<uint8_t> r{type, 3, 3, static_cast<uint8_t>(body >> 8),
	                       static_cast<uint8_t>(body)};
	r.resize(5 + body, 0xab);
	return r;
}

TEST(RecordBoundaryGuard, AWholeRecordAtATime) {
	RecordBoundaryGuard g;
	auto r = record(22, 300);
	EXPECT_EQ(g.limit(16384), 5u); // the header first
	g.consumed(r.data(), 5);
	EXPECT_EQ(g.limit(16384), 300u); // then exactly its body
	EXPECT_EQ(g.limit(100), 100u);
	g.consumed(r.data() + 5, 300);
	EXPECT_TRUE(g.at_boundary());
	EXPECT_EQ(g.limit(16384), 5u); // the next record's header
}

TEST(RecordBoundaryGuard, AHeaderInPieces) {
	RecordBoundaryGuard g;
	auto r = record(23, 0x1234);
	g.consumed(r.data(), 2);
	EXPECT_FALSE(g.at_boundary());
	EXPECT_EQ(g.limit(16384), 3u);
	g.consumed(r.data() + 2, 3);
	EXPECT_EQ(g.limit(65536), 0x1234u);
}

TEST(RecordBoundaryGuard, AnEmptyBodyEndsTheRecordAtTheHeader) {
	RecordBoundaryGuard g;
	auto r = record(21, 0);
	g.consumed(r.data(), 5);
	EXPECT_TRUE(g.at_boundary());
	EXPECT_EQ(g.limit(16384), 5u);
}

TEST(RecordBoundaryGuard, NoReadEverCrossesARecord) {
	// Random records, read with random request sizes and random short
	// reads: the bytes each read returns all belong to one record.
	std::mt19937 rng(1234);
	std::vector<uint8_t> stream;
	std::vector<size_t> ends; // offset just past each record
	for (int i = 0; i < 200; i++) {
		auto r = record(static_cast<uint8_t>(20 + rng() % 4), rng() % 2000);
		stream.insert(stream.end(), r.begin(), r.end());
		ends.push_back(stream.size());
	}
	RecordBoundaryGuard g;
	size_t off = 0, next_end = 0;
	while (off < stream.size()) {
		size_t want = 1 + rng() % 5000;
		size_t lim = g.limit(want);
		ASSERT_GT(lim, 0u);
		ASSERT_LE(lim, want);
		size_t got = 1 + rng() % lim; // the socket may return less
		got = std::min(got, stream.size() - off);
		while (ends[next_end] <= off)
			next_end++;
		ASSERT_LE(off + got, ends[next_end]) << "a read crossed the end of a record";
		g.consumed(stream.data() + off, got);
		off += got;
		EXPECT_EQ(g.at_boundary(), off == ends[next_end]);
	}
}

} // namespace
} // namespace tlsup
