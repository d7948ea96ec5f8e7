// `sockshim check RULES`: loads a filter table exactly as `sockshim run` would, and lists it.
#include <cstdio>
#include <iostream>
#include <string>

#include "filters/table.h"
#include "shim/cmd/commands.h"
#include "shim/seccomp/coverage.h"
#include "shim/stats/layout.h"

namespace shim::cmd {

int check_command(const CheckOptions& o) {
  filters::Table table;
  try {
    table = filters::load_table_file(o.rules_file);
  } catch (const filters::LoadError& e) {
    std::fprintf(stderr, "sockshim: %s\n", e.what());   // already "FILE:LINE:COL: KEY: message"
    return 2;
  }
  // Every rule needs a hit/fire slot in the stats segment; `run` would refuse the file too.
  if (table.rules().size() > stats::kMaxRules) {
    std::fprintf(stderr, "sockshim: %s: %zu rules, but at most %u fit in the stats segment\n",
                 o.rules_file.c_str(), table.rules().size(), stats::kMaxRules);
    return 2;
  }
  if (o.intercept == "seccomp") {
    const std::vector<std::string> bad = seccomp::unsupported_rules(table);
    for (const std::string& b : bad) std::fprintf(stderr, "sockshim: %s: %s\n", o.rules_file.c_str(), b.c_str());
    if (!bad.empty()) return 2;
  }
  std::string listing = filters::describe(table);
  if (!listing.empty() && listing.back() != '\n') listing += '\n';
  std::cout << listing << o.rules_file << ": ok\n" << std::flush;
  return 0;
}

}  // namespace shim::cmd
