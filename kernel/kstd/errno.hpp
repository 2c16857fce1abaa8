// SPDX-License-Identifier: GPL-2.0
// Linux errno values (identical on every architecture tlsup builds for);
// the core cannot include <linux/errno.h>.
#pragma once

namespace kstd::err {

inline constexpr int eperm = 1;
inline constexpr int enoent = 2;
inline constexpr int esrch = 3;
inline constexpr int eio = 5;
inline constexpr int ebadf = 9;
inline constexpr int eagain = 11;
inline constexpr int enomem = 12;
inline constexpr int eacces = 13;
inline constexpr int ebusy = 16;
inline constexpr int einval = 22;
inline constexpr int erange = 34;
inline constexpr int enotsock = 88;
inline constexpr int emsgsize = 90;
inline constexpr int enobufs = 105;
inline constexpr int eopnotsupp = 95;
inline constexpr int etimedout = 110;
inline constexpr int enokey = 126;
inline constexpr int ekeyrejected = 129;
// Largest value an errno may have (the kernel's MAX_ERRNO).
inline constexpr int max_errno = 4095;

} // namespace kstd::err
