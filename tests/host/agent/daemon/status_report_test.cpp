// SPDX-License-Identifier: GPL-2.0
//
// tlsupctl status's reports: JSON for monitoring (with and without a
// running agent) and the text shown when the agent is down.
#include <gtest/gtest.h>

#include "status_report.hpp"

namespace tlsup::test {
namespace {

const char *kProc = "submitted: 12\n"
                    "completed: 11\n"
                    "completed_ok: 10\n"
                    "pending: 1\n"
                    "requests:\n"
                    "  id=12 state=pending type=client auth=x509 age_ms=5 timeout_ms=20000 "
                    "peername=nfs.example\n";

TEST(StatusReport, JsonWithARunningAgent) {
	std::map<std::string, std::string> kv{
	        {"version", "0.1.0"}, {"workers", "2"},     {"config", "/etc/tlsupd/tlsupd.conf"},
	        {"done.ok", "10"},    {"done.EACCES", "1"}, {"latency_us.p50", "900"}};
	EXPECT_EQ(format_status_json(kv, "/run/tlsupd/control", "", kProc),
	          "{\"agent\":{\"running\":true,\"socket\":\"/run/tlsupd/control\","
	          "\"config\":\"/etc/tlsupd/tlsupd.conf\",\"version\":\"0.1.0\",\"workers\":2,"
	          "\"done\":{\"EACCES\":1,\"ok\":10},\"latency_us\":{\"p50\":900}},"
	          "\"kernel\":{\"completed\":11,\"completed_ok\":10,\"pending\":1,"
	          "\"submitted\":12,\"requests\":[{\"id\":12,\"state\":\"pending\","
	          "\"type\":\"client\",\"auth\":\"x509\",\"age_ms\":5,\"timeout_ms\":20000,"
	          "\"peername\":\"nfs.example\"}]}}\n");
}

TEST(StatusReport, JsonWithoutAgentOrKernel) {
	EXPECT_EQ(format_status_json(std::nullopt, "/run/x", "Connection refused", ""),
	          "{\"agent\":{\"running\":false,\"socket\":\"/run/x\","
	          "\"error\":\"Connection refused\"},\"kernel\":null}\n");
	EXPECT_EQ(format_status_json(std::nullopt, "/s", "e", "submitted: 0\nrequests:\n"),
	          "{\"agent\":{\"running\":false,\"socket\":\"/s\",\"error\":\"e\"},"
	          "\"kernel\":{\"submitted\":0,\"requests\":[]}}\n");
}

TEST(StatusReport, JsonStringsAreEscaped) {
	EXPECT_EQ(json_string("a\"b\\c\n\x01\xc3\xa9\xff"),
	          "\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\\ufffd\"");
}

TEST(StatusReport, AgentDownStillShowsTheKernel) {
	std::string out =
	        format_agent_down("/run/tlsupd/control", "No such file or directory", kProc);
	EXPECT_EQ(out.rfind("tlsupd: not running (/run/tlsupd/control: No such file or directory)\n"
	                    "kernel (/proc/net/tlsup):\n  submitted: 12\n",
	                    0),
	          0u)
	        << out;
	EXPECT_NE(format_agent_down("/s", "x", "").find("/proc/net/tlsup not present"),
	          std::string::npos);
}

} // namespace
} // namespace tlsup::test
