// SPDX-License-Identifier: GPL-2.0
// The C++ runtime pieces the compiler may call in the kernel build. The
// hosted test build gets them from libstdc++ instead and does not compile
// this file.
#include <tlsup/core.h>

#include "types.hpp"

// Plain new/delete exist for completeness: the core allocates only through
// new (kstd::Gfp{...}), which names its caller's gfp. GFP_KERNEL here.
void *operator new(kstd::usize size) {
	return tlsup_shim_alloc(size, tlsup_gfp_kernel);
}

void *operator new[](kstd::usize size) {
	return tlsup_shim_alloc(size, tlsup_gfp_kernel);
}

void operator delete(void *p) noexcept {
	tlsup_shim_free(p);
}

void operator delete[](void *p) noexcept {
	tlsup_shim_free(p);
}

void operator delete(void *p, kstd::usize) noexcept {
	tlsup_shim_free(p);
}

void operator delete[](void *p, kstd::usize) noexcept {
	tlsup_shim_free(p);
}

extern "C" {

// A call through an unfilled vtable slot: a bug in our code, never data.
void __cxa_pure_virtual(void) {
	tlsup_shim_bug("tlsup: pure virtual function called");
}

void __cxa_deleted_virtual(void) {
	tlsup_shim_bug("tlsup: deleted virtual function called");
}

} // extern "C"
