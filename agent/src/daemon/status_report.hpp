// SPDX-License-Identifier: GPL-2.0
//
// What tlsupctl status prints: the agent's "key value" reply and the
// kernel's /proc/net/tlsup, as text for people or as JSON for monitoring,
// with or without a running agent.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace tlsup {

// "key value" lines into a map.
std::map<std::string, std::string> parse_status(const std::string &text);

// The human-readable report: the agent's counters, then the kernel's.
std::string format_status(const std::map<std::string, std::string> &agent,
                          const std::string &proc_net_tlsup);

// Without an agent: "tlsupd: STATE (SOCKET: WHY)", then the kernel's
// counters. STATE is "not running" or "status unknown".
std::string format_agent_down(const std::string &socket, const std::string &why,
                              const std::string &proc_net_tlsup,
                              const std::string &state = "not running");

// One JSON object: {"agent": {...}, "kernel": {...} or null}. AGENT is the
// parsed reply (dotted keys nest: "done.ok" is agent.done.ok; digits are
// numbers), or nullopt when the agent is down, then "agent" is
// {"running": false, "socket": ..., "error": WHY}. The kernel's
// "key: value" lines become members, its request lines a "requests" array.
std::string format_status_json(const std::optional<std::map<std::string, std::string>> &agent,
                               const std::string &socket, const std::string &why,
                               const std::string &proc_net_tlsup);

// S as a JSON string literal, quotes included: control bytes as \u00XX,
// UTF-8 kept, a byte that is not UTF-8 as U+FFFD.
std::string json_string(const std::string &s);

} // namespace tlsup
