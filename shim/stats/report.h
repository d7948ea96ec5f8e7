// Turning a stats segment into what users read: socktest-style text and the JSON document
// (docs/stats.md). Used by the `sockshim` command only, never inside the preload object.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "shim/stats/layout.h"

namespace shim::stats {

// {"version": 1, "name": ..., "seed": ..., "rules_file": ..., "sockets": [...], "rules": [...],
//  "processes": [...], "overflow": {...}}; see docs/stats.md for every key.
nlohmann::json to_json(const Segment& s, const std::string& name);

// One block per cookie, like socktest's Stat.String(), then rules and processes.
// with_events adds the decision log (every fault fired, oldest first).
std::string to_text(const Segment& s, const std::string& name, bool with_events = false);

}  // namespace shim::stats
