// SPDX-License-Identifier: GPL-2.0
// The freestanding support library, hosted.
#include <gtest/gtest.h>

#include "kstd/atomic.hpp"
#include "kstd/errno.hpp"
#include "kstd/expected.hpp"
#include "kstd/list.hpp"
#include "kstd/span.hpp"
#include "kstd/unique_ptr.hpp"

#include "fake/fake_kernel.hpp"

namespace {

kstd::Expected<int> half(int v) {
	if (v % 2)
		return kstd::Error(kstd::err::einval);
	return v / 2;
}

kstd::Expected<int> quarter(int v) {
	int h = TRY(half(v));
	return TRY(half(h));
}

TEST(Kstd, TryPropagatesTheFirstError) {
	EXPECT_EQ(quarter(8).value(), 2);
	auto r = quarter(6);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().code(), kstd::err::einval);
	EXPECT_EQ(kstd::to_kernel_status(r), -kstd::err::einval);
}

struct Item {
	int v;
	kstd::ListNode node;
};

TEST(Kstd, IntrusiveListIsFifoAndUnlinksInPlace) {
	KSTD_LIST(Item, node) list;
	Item a{1, {}}, b{2, {}}, c{3, {}};
	list.push_back(a);
	list.push_back(b);
	list.push_back(c);
	b.node.unlink();
	EXPECT_FALSE(b.node.linked());
	b.node.unlink(); // idempotent
	std::vector<int> seen;
	for (Item &i : list)
		seen.push_back(i.v);
	EXPECT_EQ(seen, (std::vector<int>{1, 3}));
	EXPECT_EQ(list.pop_front()->v, 1);
	EXPECT_EQ(list.pop_front()->v, 3);
	EXPECT_TRUE(list.empty());
	EXPECT_EQ(list.pop_front(), nullptr);
}

TEST(Kstd, ForEachSafeAllowsUnlink) {
	KSTD_LIST(Item, node) list, other;
	Item a{1, {}}, b{2, {}};
	list.push_back(a);
	list.push_back(b);
	list.for_each_safe([&](Item &i) {
		i.node.unlink();
		other.push_back(i);
	});
	EXPECT_TRUE(list.empty());
	EXPECT_EQ(other.front()->v, 1);
	other.pop_front();
	other.pop_front();
}

TEST(Kstd, SpanSubspanStaysInBounds) {
	int arr[] = {1, 2, 3};
	kstd::Span<int> s(arr);
	EXPECT_EQ(s.subspan(1).size(), 2u);
	EXPECT_EQ(s.subspan(1, 10).size(), 2u);
	EXPECT_TRUE(s.subspan(3).empty());
	EXPECT_TRUE(s.subspan(7, 1).empty());
}

struct Counted {
	static inline int alive = 0;
	Counted() { alive++; }
	~Counted() { alive--; }
};

TEST(Kstd, UniquePtrFreesThroughTheShim) {
	auto &k = fake::Kernel::get();
	k.reset();
	long before = k.live_allocs.load();
	{
		auto p = kstd::make_unique<Counted>(kstd::Gfp{0});
		ASSERT_TRUE(p);
		EXPECT_EQ(Counted::alive, 1);
		EXPECT_EQ(k.live_allocs.load(), before + 1);
		auto q = kstd::move(p);
		EXPECT_FALSE(p);
	}
	EXPECT_EQ(Counted::alive, 0);
	EXPECT_EQ(k.live_allocs.load(), before);
}

TEST(Kstd, AllocationFailureGivesNullAndNoConstruction) {
	auto &k = fake::Kernel::get();
	k.reset();
	k.fail_alloc_after = 0;
	auto p = kstd::make_unique<Counted>(kstd::Gfp{0});
	EXPECT_FALSE(p);
	EXPECT_EQ(Counted::alive, 0);
}

TEST(Kstd, RefCountReportsTheLastPut) {
	kstd::RefCount r(1);
	r.get();
	EXPECT_FALSE(r.put());
	EXPECT_TRUE(r.put());
}

// Review finding: RefCount wrapped on underflow, so a double put freed
// twice. Like refcount_t it now warns and saturates instead.
TEST(Kstd, RefCountUnderflowWarnsAndSaturates) {
	auto &k = fake::Kernel::get();
	k.reset();
	kstd::RefCount r(1);
	EXPECT_TRUE(r.put());
	EXPECT_FALSE(r.put()) << "a put past zero never reports a last put";
	EXPECT_EQ(r.read(), kstd::RefCount::kSaturated);
	ASSERT_EQ(k.warnings().size(), 1u);
	EXPECT_NE(k.warnings()[0].find("underflow"), std::string::npos);
	for (int i = 0; i < 1000; i++)
		EXPECT_FALSE(r.put()) << "saturated: stays, never frees";
	r.get();
	EXPECT_EQ(r.read(), kstd::RefCount::kSaturated);
	EXPECT_EQ(k.warnings().size(), 1u) << "warned once";
	k.reset();
}

TEST(Kstd, RefCountIncrementFromZeroWarnsAndSaturates) {
	auto &k = fake::Kernel::get();
	k.reset();
	kstd::RefCount r(0);
	r.get();
	EXPECT_EQ(r.read(), kstd::RefCount::kSaturated);
	EXPECT_FALSE(r.put());
	ASSERT_EQ(k.warnings().size(), 1u);
	EXPECT_NE(k.warnings()[0].find("increment on 0"), std::string::npos);
	k.reset();
}

TEST(Kstd, RefCountOverflowSaturates) {
	auto &k = fake::Kernel::get();
	k.reset();
	kstd::RefCount r(0x7fffffffu);
	r.get();
	EXPECT_EQ(r.read(), kstd::RefCount::kSaturated);
	EXPECT_FALSE(r.put());
	EXPECT_EQ(k.warnings().size(), 1u);
	k.reset();
}

} // namespace
