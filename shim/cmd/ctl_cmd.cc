// `sockshim ctl NAME list|enable RULE|disable RULE`: switches rules of a running program through
// its stats segment. The shim reads a rule's `disabled` word each time the rule matches, so the
// change takes effect on the next call, with no thread or socket inside the program.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "filters/names.h"
#include "shim/cmd/commands.h"
#include "shim/stats/segment.h"

namespace shim::cmd {
namespace {

constexpr int kWaitReadyMs = 1000;

std::string rule_name(const stats::RuleSlot& r) {
  return std::string(r.name, strnlen(r.name, sizeof r.name));
}

}  // namespace

int ctl_command(const CtlOptions& o) {
  const bool change = o.action == "enable" || o.action == "disable";
  if (!change && o.action != "list") {
    std::fprintf(stderr, "sockshim: ctl: unknown action \"%s\" (known: list, enable, disable)\n",
                 o.action.c_str());
    return 2;
  }
  if (change && o.rule.empty()) {
    std::fprintf(stderr, "sockshim: ctl %s: which rule? (sockshim ctl %s %s RULE)\n",
                 o.action.c_str(), o.name.c_str(), o.action.c_str());
    return 2;
  }
  if (!change && !o.rule.empty()) {
    std::fprintf(stderr, "sockshim: ctl list takes no rule\n");
    return 2;
  }
  stats::Mapping m;
  int sys_errno = 0;
  const stats::SegmentError e = stats::attach_segment(o.name.c_str(), change, kWaitReadyMs, m, &sys_errno);
  if (e != stats::SegmentError::kNone) {
    std::fprintf(stderr, "sockshim: stats segment %s: %s%s%s\n", o.name.c_str(), stats::describe(e),
                 sys_errno ? ": " : "", sys_errno ? std::strerror(sys_errno) : "");
    return 1;
  }
  stats::Segment& s = *m.seg;
  const std::uint32_t n = std::min(s.header.rule_count, stats::kMaxRules);
  int rc = 0;
  if (!change) {
    for (std::uint32_t i = 0; i < n; ++i) {
      const stats::RuleSlot& r = s.rules[i];
      std::printf("%-8s %s  hits %llu  fired %llu\n",
                  r.disabled.load(std::memory_order_relaxed) ? "disabled" : "enabled",
                  rule_name(r).c_str(),
                  static_cast<unsigned long long>(r.hits.load(std::memory_order_relaxed)),
                  static_cast<unsigned long long>(r.fired.load(std::memory_order_relaxed)));
    }
    if (n == 0) std::printf("no rules\n");
  } else {
    std::uint32_t found = n;
    std::vector<std::string> names;
    for (std::uint32_t i = 0; i < n; ++i) {
      names.push_back(rule_name(s.rules[i]));
      if (names.back() == o.rule) found = i;
    }
    if (found == n) {
      std::vector<const char*> c;
      for (const auto& name : names) c.push_back(name.c_str());
      const char* guess = filters::closest_name(o.rule, c);
      std::fprintf(stderr, "sockshim: ctl: %s has no rule \"%s\"%s\n", o.name.c_str(),
                   o.rule.c_str(), guess ? filters::did_you_mean(guess).c_str() : "");
      rc = 1;
    } else {
      s.rules[found].disabled.store(o.action == "disable" ? 1 : 0, std::memory_order_relaxed);
      s.header.generation.fetch_add(1, std::memory_order_release);
      std::printf("%s %s\n", o.action == "disable" ? "disabled" : "enabled", o.rule.c_str());
    }
  }
  stats::unmap_segment(m);
  return rc;
}

}  // namespace shim::cmd
