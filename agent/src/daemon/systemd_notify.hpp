// SPDX-License-Identifier: GPL-2.0
//
// systemd's service notifications, through libsystemd's sd_notify: READY
// once the agent serves, RELOADING/READY around a reload, WATCHDOG
// keep-alives, STOPPING, STATUS. Without $NOTIFY_SOCKET (not started by
// systemd as Type=notify) every call does nothing.
#pragma once

#include <chrono>
#include <string>

namespace tlsup::systemd {

void ready(const std::string &status);
// RELOADING=1 with MONOTONIC_USEC, which systemd 253+ wants (252 ignores
// it).
void reloading();
void stopping();
void watchdog();
void status(const std::string &text);

// The keep-alive deadline systemd set for this process ($WATCHDOG_USEC, if
// $WATCHDOG_PID is ours or unset), or zero without a watchdog.
std::chrono::microseconds watchdog_interval();

} // namespace tlsup::systemd
