#include "shim/cmd/junit.h"

#include <sys/wait.h>
#include <time.h>

#include <cstdio>
#include <cstring>

namespace shim::cmd {
namespace {

using nlohmann::json;

// Bytes of a valid UTF-8 sequence starting at s[i] (no overlong forms, surrogates or values past
// U+10FFFF), 0 if none starts there. The command's arguments can be any bytes.
std::size_t utf8_sequence(const std::string& s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                  : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len == 0 || len > s.size() - i) return 0;
  for (std::size_t k = 1; k < len; ++k)
    if ((b(i + k) & 0xc0) != 0x80) return 0;
  if (len == 3 && ((c == 0xe0 && b(i + 1) < 0xa0) || (c == 0xed && b(i + 1) >= 0xa0))) return 0;
  if (len == 4 && ((c == 0xf0 && b(i + 1) < 0x90) || (c == 0xf4 && b(i + 1) >= 0x90))) return 0;
  return len;
}

// XML 1.0 cannot carry most control characters even escaped, nor invalid UTF-8: both become
// U+FFFD, so a strict parser never rejects the whole report over one odd argument.
std::string xml_text(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = utf8_sequence(s, i);
    if (len == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      out += "\xef\xbf\xbd";
      i += len ? len : 1;
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.append(s, i, len);
    }
    i += len;
  }
  return out;
}

std::string attr(const char* name, const std::string& value) {
  return std::string(" ") + name + "=\"" + xml_text(value) + '"';
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s < 0 ? 0.0 : s);
  return buf;
}

// ISO 8601 without a zone, as the Ant schema's xs:dateTime timestamp is written (UTC).
std::string timestamp_text(std::int64_t ns) {
  const time_t t = static_cast<time_t>(ns / 1000000000);
  tm utc{};
  if (!gmtime_r(&t, &utc)) return "1970-01-01T00:00:00";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  return buf;
}

std::string command_text(const std::vector<std::string>& command) {
  std::string out;
  for (const std::string& a : command) out += (out.empty() ? "" : " ") + a;
  return out;
}

struct Case {
  std::string name;
  std::string failure;   // empty: passed
  std::string type;      // the failure's type attribute
};

Case exit_case(const JunitRun& run) {
  Case c{"`" + command_text(run.command) + "` exits 0", "", ""};
  const int raw = run.raw_status;
  if (WIFSIGNALED(raw)) {
    const int sig = WTERMSIG(raw);
    c.failure = "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    c.type = "signal";
  } else if (WIFEXITED(raw) && WEXITSTATUS(raw) != 0) {
    c.failure = "exited with status " + std::to_string(WEXITSTATUS(raw));
    c.type = "exit-status";
  } else if (!run.attached) {
    c.failure = "no process of the command loaded the shim: nothing was counted or injected";
    c.type = "unattached";
  }
  return c;
}

const json* rule_of(const JunitRun& run, const std::string& name) {
  for (const json& r : run.stats.at("rules"))
    if (r.at("name") == name) return &r;
  return nullptr;
}

Case fired_case(const JunitRun& run, const std::string& rule) {
  Case c{"rule " + rule + " fired", "", ""};
  const json* r = rule_of(run, rule);
  const std::uint64_t fired = r ? r->at("fired").get<std::uint64_t>() : 0;
  if (fired == 0) {
    c.failure = "rule " + rule + " never fired (hits " +
                (r ? r->at("hits").dump() : std::string("0")) + "): --expect-fired fails the run";
    c.type = "expect-fired";
  }
  return c;
}

std::string properties(const JunitRun& run) {
  std::string out = "    <properties>\n";
  auto prop = [&](const std::string& name, const std::string& value) {
    out += "      <property" + attr("name", name) + attr("value", value) + "/>\n";
  };
  prop("sockshim.stats", run.name);
  prop("sockshim.seed", run.stats.at("seed").dump());
  prop("sockshim.rules_file", run.stats.at("rules_file").get<std::string>());
  if (!run.intercept.empty()) prop("sockshim.intercept", run.intercept);
  std::uint64_t total = 0;
  for (const json& r : run.stats.at("rules")) {
    const auto fired = r.at("fired").get<std::uint64_t>();
    total += fired;
    prop("sockshim.faults." + r.at("name").get<std::string>(), std::to_string(fired));
  }
  prop("sockshim.faults_injected", std::to_string(total));
  return out + "    </properties>\n";
}

}  // namespace

std::string to_junit(const JunitRun& run) {
  std::vector<Case> cases;
  for (const std::string& rule : run.expect_fired) cases.push_back(fired_case(run, rule));
  cases.push_back(exit_case(run));
  std::size_t failures = 0;
  for (const Case& c : cases) failures += c.failure.empty() ? 0 : 1;

  const std::string time = seconds_text(run.seconds);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites" + attr("name", "sockshim") + attr("tests", std::to_string(cases.size())) +
         attr("failures", std::to_string(failures)) + attr("errors", "0") + attr("time", time) + ">\n";
  out += "  <testsuite" + attr("name", "sockshim run " + run.name) +
         attr("tests", std::to_string(cases.size())) + attr("failures", std::to_string(failures)) +
         attr("errors", "0") + attr("skipped", "0") + attr("time", time) +
         attr("timestamp", timestamp_text(run.start_ns)) + attr("hostname", run.hostname) + ">\n";
  out += properties(run);
  for (const Case& c : cases) {
    // Only the exit-status case took the command's time; the rule verdicts are read afterwards.
    const bool is_exit = &c == &cases.back();
    out += "    <testcase" + attr("classname", "sockshim.run") + attr("name", c.name) +
           attr("time", is_exit ? time : "0.000");
    if (c.failure.empty()) {
      out += "/>\n";
    } else {
      out += ">\n      <failure" + attr("message", c.failure) + attr("type", c.type) + ">" +
             xml_text(c.failure) + "</failure>\n    </testcase>\n";
    }
  }
  out += "    <system-out>" + xml_text(run.summary) + "</system-out>\n";
  out += "    <system-err></system-err>\n";
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace shim::cmd
