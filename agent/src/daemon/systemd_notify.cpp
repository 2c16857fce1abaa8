// SPDX-License-Identifier: GPL-2.0
#include "systemd_notify.hpp"

#include <ctime>
#include <systemd/sd-daemon.h>

namespace tlsup::systemd {

namespace {

// The protocol is line-based: a status text cannot add assignments.
std::string one_line(const std::string &s) {
	std::string out = s;
	for (char &c : out)
		if (c == '\n' || c == '\r')
			c = ' ';
	return out;
}

uint64_t monotonic_usec() {
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000u +
	       static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

} // namespace

void ready(const std::string &text) {
	sd_notify(0, ("READY=1\nSTATUS=" + one_line(text)).c_str());
}

void reloading() {
	sd_notify(0, ("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec())).c_str());
}

void stopping() {
	sd_notify(0, "STOPPING=1");
}

void watchdog() {
	sd_notify(0, "WATCHDOG=1");
}

void status(const std::string &text) {
	sd_notify(0, ("STATUS=" + one_line(text)).c_str());
}

std::chrono::microseconds watchdog_interval() {
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0)
		return std::chrono::microseconds(0);
	return std::chrono::microseconds(usec);
}

} // namespace tlsup::systemd
