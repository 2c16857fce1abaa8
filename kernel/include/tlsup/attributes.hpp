// SPDX-License-Identifier: GPL-2.0
// Attributes core.h declares with, in C++ spelling (checkpatch reads the C
// header and knows only the kernel's macros).
#pragma once

#define TLSUP_PRINTF(fmt, args) [[gnu::format(printf, fmt, args)]]
