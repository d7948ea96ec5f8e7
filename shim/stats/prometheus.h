// The stats document (report.h's to_json) in the Prometheus text exposition format 0.0.4, as
// node_exporter's textfile collector and a Pushgateway read it. Used by `sockshim stats --format
// prometheus`; never inside the preload object.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace shim::stats {

// One family per counter: sockshim_socket_<counter>_total{run,family,type,protocol},
// sockshim_rule_{hits,fired}_total and sockshim_rule_enabled{run,rule}, sockshim_processes{run,state},
// sockshim_leaked_sockets{run}, and the overflow/raced counters. docs/stats.md lists them all.
std::string to_prometheus(const nlohmann::json& doc);

}  // namespace shim::stats
