// SPDX-License-Identifier: GPL-2.0
// Placement new and allocation through the shim. The core never uses the
// global operator new: every allocation names the gfp flags its caller gave
// (new (Gfp{flags}) T(...)) and may fail, returning nullptr.
#pragma once

#include "types.hpp"
#include "utility.hpp"

#if defined(TLSUP_HOSTED)
#include <new>
#else
inline void *operator new(kstd::usize, void *p) noexcept {
	return p;
}
inline void operator delete(void *, void *) noexcept {}
#endif

extern "C" {
void *tlsup_shim_alloc(unsigned long size, unsigned int gfp);
void tlsup_shim_free(const void *p);
}

namespace kstd {

// Allocation flags as the kernel caller gave them (gfp_t's bits).
struct Gfp {
	unsigned int flags;
};

} // namespace kstd

// Fails by returning nullptr (-fcheck-new makes the compiler test it before
// running the constructor).
inline void *operator new(kstd::usize size, kstd::Gfp gfp) noexcept {
	return tlsup_shim_alloc(size, gfp.flags);
}
inline void operator delete(void *p, kstd::Gfp) noexcept {
	tlsup_shim_free(p);
}

namespace kstd {

template <typename T>
void destroy(T *p) {
	if (p) {
		p->~T();
		tlsup_shim_free(p);
	}
}

} // namespace kstd
