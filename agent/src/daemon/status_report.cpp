// SPDX-License-Identifier: GPL-2.0
#include "status_report.hpp"

#include <cstdio>
#include <cstdlib>
#include <glib.h>
#include <sstream>
#include <vector>

#include "stats.hpp"

namespace tlsup {

namespace {

bool all_digits(const std::string &s) {
	if (s.empty() || s.size() > 19)
		return false;
	for (char c : s)
		if (c < '0' || c > '9')
			return false;
	return true;
}

std::string json_value(const std::string &v) {
	return all_digits(v) ? v : json_string(v);
}

// Dotted keys as nested objects; the map is sorted, so a prefix's members
// are adjacent.
std::string nested_object(const std::map<std::string, std::string> &kv) {
	std::map<std::string, std::map<std::string, std::string>> groups;
	std::map<std::string, std::string> plain;
	for (const auto &[k, v] : kv) {
		size_t dot = k.find('.');
		if (dot == std::string::npos || dot == 0 || dot + 1 == k.size())
			plain[k] = v;
		else
			groups[k.substr(0, dot)][k.substr(dot + 1)] = v;
	}
	std::string out = "{";
	bool first = true;
	auto member = [&](const std::string &k, const std::string &rendered) {
		out += first ? "" : ",";
		first = false;
		out += json_string(k) + ":" + rendered;
	};
	for (const auto &[k, v] : plain)
		if (!groups.count(k))
			member(k, json_value(v));
	for (const auto &[k, sub] : groups)
		member(k, nested_object(sub));
	return out + "}";
}

std::string kernel_json(const std::string &proc) {
	if (proc.empty())
		return "null";
	std::map<std::string, std::string> kv;
	std::vector<std::string> requests;
	std::istringstream in(proc);
	std::string line;
	while (std::getline(in, line)) {
		if (line.rfind("  ", 0) == 0) {
			// "  id=1 state=pending ..."
			std::istringstream words(line);
			std::string w, obj = "{";
			bool first = true;
			while (words >> w) {
				size_t eq = w.find('=');
				if (eq == std::string::npos || eq == 0)
					continue;
				obj += (first ? "" : ",") + json_string(w.substr(0, eq)) + ":" +
				       json_value(w.substr(eq + 1));
				first = false;
			}
			requests.push_back(obj + "}");
			continue;
		}
		size_t colon = line.find(':');
		if (colon == std::string::npos || colon == 0)
			continue;
		std::string value = line.substr(colon + 1);
		while (!value.empty() && value.front() == ' ')
			value.erase(0, 1);
		if (!value.empty())
			kv[line.substr(0, colon)] = value;
	}
	std::string out = "{";
	bool first = true;
	for (const auto &[k, v] : kv) {
		out += (first ? "" : ",") + json_string(k) + ":" + json_value(v);
		first = false;
	}
	out += std::string(first ? "" : ",") + "\"requests\":[";
	for (size_t i = 0; i < requests.size(); i++)
		out += (i ? "," : "") + requests[i];
	return out + "]}";
}

std::string indented(const std::string &proc) {
	std::string out;
	std::istringstream in(proc);
	std::string line;
	while (std::getline(in, line))
		out += "  " + line + "\n";
	return out;
}

std::string kernel_text(const std::string &proc) {
	if (proc.empty())
		return "kernel: /proc/net/tlsup not present (in-tree net/handshake, or tlsup.ko "
		       "not "
		       "loaded)\n";
	return "kernel (/proc/net/tlsup):\n" + indented(proc);
}

} // namespace

std::string json_string(const std::string &s) {
	std::string out = "\"";
	for (size_t i = 0; i < s.size();) {
		unsigned char c = static_cast<unsigned char>(s[i]);
		if (c == '"' || c == '\\') {
			out += '\\';
			out += static_cast<char>(c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			char buf[8];
			std::snprintf(buf, sizeof(buf), "\\u%04x", c);
			out += buf;
			i++;
		} else if (c < 0x80) {
			out += static_cast<char>(c);
			i++;
		} else {
			// JSON is UTF-8: keep what is, replace what is not.
			gunichar u = g_utf8_get_char_validated(s.data() + i,
			                                       static_cast<gssize>(s.size() - i));
			if (u == static_cast<gunichar>(-1) || u == static_cast<gunichar>(-2)) {
				out += "\\ufffd";
				i++;
			} else {
				size_t n = static_cast<size_t>(g_utf8_skip[c]);
				out.append(s, i, n);
				i += n;
			}
		}
	}
	return out + "\"";
}

std::map<std::string, std::string> parse_status(const std::string &text) {
	std::map<std::string, std::string> out;
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line)) {
		size_t sp = line.find(' ');
		if (sp == std::string::npos || sp == 0)
			continue;
		out[line.substr(0, sp)] = line.substr(sp + 1);
	}
	return out;
}

std::string format_status(const std::map<std::string, std::string> &agent,
                          const std::string &proc_net_tlsup) {
	auto get = [&](const std::string &k) {
		auto it = agent.find(k);
		return it == agent.end() ? std::string("?") : it->second;
	};
	auto ms = [&](const std::string &k) {
		auto it = agent.find(k);
		if (it == agent.end())
			return std::string("?");
		char buf[32];
		std::snprintf(buf, sizeof(buf), "%.3f ms",
		              std::strtoull(it->second.c_str(), nullptr, 10) / 1000.0);
		return std::string(buf);
	};
	std::ostringstream o;
	o << "tlsupd" << (agent.count("version") ? " " + get("version") : std::string()) << ": "
	  << get("workers") << " worker(s), " << get("inflight") << " handshake(s) in flight (max "
	  << get("max_inflight") << ")\n";
	if (agent.count("config"))
		o << "configuration: " << get("config") << "\n";
	o << "handshakes by DONE status:\n";
	for (const auto &d : kDoneStatuses) {
		int s = d.status;
		char buf[64];
		std::snprintf(buf, sizeof(buf), "  %-14s %s\n", status_name(s),
		              get(std::string("done.") + status_name(s)).c_str());
		o << buf;
	}
	char buf[64];
	std::snprintf(buf, sizeof(buf), "  %-14s %s\n", "other", get("done.other").c_str());
	o << buf;
	std::snprintf(buf, sizeof(buf), "  %-14s %s\n", "total", get("done.total").c_str());
	o << buf;
	o << "latency, ACCEPT to DONE: p50 " << ms("latency_us.p50") << ", p90 "
	  << ms("latency_us.p90") << ", p99 " << ms("latency_us.p99") << "\n";
	if (agent.count("accept_latency_us.p99"))
		o << "latency, READY to ACCEPT reply: p50 " << ms("accept_latency_us.p50")
		  << ", p99 " << ms("accept_latency_us.p99") << "\n";
	if (agent.count("acceptor_realtime"))
		o << "acceptor: "
		  << (get("acceptor_realtime") == "1" ? "real-time (SCHED_FIFO)"
		                                      : "not real-time (see tlsupd.conf(5), "
		                                        "acceptor_realtime)")
		  << "\n";
	o << "notifications: " << get("ready") << " READY, " << get("ready_overruns")
	  << " overrun(s); ACCEPT: " << get("accepted") << " accepted, " << get("accept_errors")
	  << " error(s), paused " << get("accept_paused") << " time(s), "
	  << get("accept_first_steps") << " client first step(s) in the acceptor, "
	  << get("accept_burst_readies") << " READY(s) read again before a hand-over; DONE refused "
	  << get("done_errors") << " time(s)\n";
	o << kernel_text(proc_net_tlsup);
	return o.str();
}

std::string format_agent_down(const std::string &socket, const std::string &why,
                              const std::string &proc_net_tlsup, const std::string &state) {
	return "tlsupd: " + state + " (" + socket + ": " + why + ")\n" +
	       kernel_text(proc_net_tlsup);
}

std::string format_status_json(const std::optional<std::map<std::string, std::string>> &agent,
                               const std::string &socket, const std::string &why,
                               const std::string &proc_net_tlsup) {
	std::string a;
	if (agent) {
		std::map<std::string, std::string> kv = *agent;
		std::string body = nested_object(kv);
		a = "{\"running\":true,\"socket\":" + json_string(socket) +
		    (body.size() > 2 ? "," + body.substr(1) : "}");
	} else {
		a = "{\"running\":false,\"socket\":" + json_string(socket) +
		    ",\"error\":" + json_string(why) + "}";
	}
	return "{\"agent\":" + a + ",\"kernel\":" + kernel_json(proc_net_tlsup) + "}\n";
}

} // namespace tlsup
