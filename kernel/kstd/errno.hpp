// SPDX-License-Identifier: GPL-2.0
// Linux errno values (identical on every architecture tlsup builds for);
// the core cannot include <linux/errno.h>.
#pragma once

namespace kstd::err {

inline constexpr int EPERM = 1;
inline constexpr int ENOENT = 2;
inline constexpr int ESRCH = 3;
inline constexpr int EIO = 5;
inline constexpr int EBADF = 9;
inline constexpr int EAGAIN = 11;
inline constexpr int ENOMEM = 12;
inline constexpr int EACCES = 13;
inline constexpr int EBUSY = 16;
inline constexpr int EINVAL = 22;
inline constexpr int ERANGE = 34;
inline constexpr int ENOTSOCK = 88;
inline constexpr int EMSGSIZE = 90;
inline constexpr int ENOBUFS = 105;
inline constexpr int EOPNOTSUPP = 95;
inline constexpr int ETIMEDOUT = 110;
inline constexpr int ENOKEY = 126;
inline constexpr int EKEYREJECTED = 129;
// Largest value an errno may have (the kernel's MAX_ERRNO).
inline constexpr int MAX_ERRNO = 4095;

} // namespace kstd::err
