// SPDX-License-Identifier: GPL-2.0
// Intrusive circular doubly-linked list, like the kernel's list_head: a node
// unlinks itself in O(1) and knows whether it is on a list. No allocation;
// the caller provides all locking.
#pragma once

#include "types.hpp"
#include "utility.hpp"

namespace kstd {

class ListNode {
public:
	ListNode() : prev_(this), next_(this) {}
	ListNode(const ListNode &) = delete;
	ListNode &operator=(const ListNode &) = delete;

	bool linked() const { return next_ != this; }

	// Safe on an unlinked node (like list_del_init).
	void unlink() {
		prev_->next_ = next_;
		next_->prev_ = prev_;
		prev_ = next_ = this;
	}

private:
	template <typename T, usize>
	friend class List;

	void insert_before(ListNode *pos) {
		next_ = pos;
		prev_ = pos->prev_;
		pos->prev_->next_ = this;
		pos->prev_ = this;
	}

	ListNode *prev_;
	ListNode *next_;
};

// Offset is where T keeps its ListNode; declare lists with KSTD_LIST(T, member).
template <typename T, usize Offset>
class List {
public:
	List() = default;
	List(const List &) = delete;
	List &operator=(const List &) = delete;

	bool empty() const { return !head_.linked(); }

	void push_back(T &item) { node(item).insert_before(&head_); }

	T *front() const { return empty() ? nullptr : owner(head_.next_); }

	T *pop_front() {
		T *item = front();
		if (item)
			node(*item).unlink();
		return item;
	}

	// Moves every item of @other to the end of this list.
	void splice_back(List &other) {
		while (T *item = other.pop_front())
			push_back(*item);
	}

	class Iterator {
	public:
		Iterator(ListNode *n, const ListNode *head) : n_(n), head_(head) {}
		T &operator*() const { return *owner(n_); }
		T *operator->() const { return owner(n_); }
		Iterator &operator++() {
			n_ = n_->next_;
			return *this;
		}
		bool operator!=(const Iterator &o) const { return n_ != o.n_; }

	private:
		ListNode *n_;
		const ListNode *head_;
	};

	// Iteration must not unlink the current item; collect first.
	Iterator begin() { return Iterator(head_.next_, &head_); }
	Iterator end() { return Iterator(&head_, &head_); }

	// Walks the list, allowing @fn to unlink the item it was given.
	template <typename Fn>
	void for_each_safe(Fn &&fn) {
		ListNode *n = head_.next_;
		while (n != &head_) {
			ListNode *next = n->next_;
			fn(*owner(n));
			n = next;
		}
	}

private:
	static T *owner(const ListNode *n) {
		return reinterpret_cast<T *>(reinterpret_cast<uptr>(n) - Offset);
	}
	static ListNode &node(T &item) {
		return *reinterpret_cast<ListNode *>(reinterpret_cast<uptr>(&item) + Offset);
	}

	ListNode head_;
};

} // namespace kstd

#define KSTD_LIST(T, member) ::kstd::List<T, KSTD_OFFSETOF(T, member)>
