#include "shim/stats/prometheus.h"

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "shim/stats/layout.h"
#include "shim/stats/segment.h"

namespace shim::stats {
namespace {

using nlohmann::json;

// Label values are UTF-8 (to_json already replaced invalid bytes); the format escapes only
// backslash, double quote and line feed.
std::string label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// A family / type / protocol without a name is a number in the document: its decimal text.
std::string as_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string labels_text(const Labels& labels) {
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"" + label_value(labels[i].second) + '"';
  }
  return out + '}';
}

// A metric family: HELP and TYPE once, then every sample. The format wants all samples of a
// family together, so families are collected first and written in one go.
struct Family {
  std::string help;
  const char* type;
  std::vector<std::pair<Labels, std::uint64_t>> samples;
};

class Writer {
 public:
  explicit Writer(std::string run) : run_(std::move(run)) {}
  void add(const std::string& name, const std::string& help, const char* type, Labels labels,
           std::uint64_t value) {
    auto [it, fresh] = families_.try_emplace(name, Family{help, type, {}});
    if (fresh) order_.push_back(name);
    labels.insert(labels.begin(), {"run", run_});
    it->second.samples.emplace_back(std::move(labels), value);
  }
  std::string text() const {
    std::string out;
    for (const std::string& name : order_) {
      const Family& f = families_.at(name);
      out += "# HELP " + name + ' ' + f.help + '\n';
      out += "# TYPE " + name + ' ' + f.type + '\n';
      for (const auto& [labels, value] : f.samples)
        out += name + labels_text(labels) + ' ' + std::to_string(value) + '\n';
    }
    return out;
  }

 private:
  std::string run_;
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

std::uint64_t u64(const json& v) { return v.is_number_unsigned() ? v.get<std::uint64_t>() : 0; }

void add_sockets(Writer& w, const json& doc) {
  for (std::uint32_t i = 0; i < kCounterCount; ++i) {
    const std::string counter = counter_name(static_cast<Counter>(i));
    for (const json& s : doc.at("sockets")) {
      w.add("sockshim_socket_" + counter + "_total",
            "The " + counter + " counter of sockets of one kind (docs/stats.md, Counters).",
            "counter",
            {{"family", as_text(s.at("family"))}, {"type", as_text(s.at("type"))},
             {"protocol", as_text(s.at("protocol"))}},
            u64(s.at(counter)));
    }
  }
}

void add_rules(Writer& w, const json& doc) {
  for (const json& r : doc.at("rules")) {
    const Labels rule = {{"rule", r.at("name").get<std::string>()}};
    w.add("sockshim_rule_hits_total", "Calls a rule matched.", "counter", rule, u64(r.at("hits")));
    w.add("sockshim_rule_fired_total", "Times a rule's action ran (faults injected).", "counter",
          rule, u64(r.at("fired")));
    w.add("sockshim_rule_armed_total", "Sockets that carried a rule's socket filter (inbound_loss) or pacing (rate).", "counter", rule,
          u64(r.at("armed")));
    w.add("sockshim_rule_lifted_total",
          "Sockets an inbound_loss rule left because the program's own filter took its place.", "counter", rule,
          u64(r.at("lifted")));
    w.add("sockshim_rule_enabled", "1 while a rule is enabled (sockshim ctl switches it).",
          "gauge", rule, r.at("enabled").get<bool>() ? 1 : 0);
  }
}

void add_processes(Writer& w, const json& doc) {
  std::map<std::string, std::uint64_t> by_state;
  std::uint64_t leaked = 0;
  for (const json& p : doc.at("processes")) {
    ++by_state[p.at("state").get<std::string>()];
    leaked += u64(p.at("leaked_count"));
  }
  for (const auto& [state, n] : by_state)
    w.add("sockshim_processes", "Processes of the run that loaded the shim, by state.", "gauge",
          {{"state", state}}, n);
  w.add("sockshim_leaked_sockets", "Sockets still open when their process exited.", "gauge", {},
        leaked);
}

}  // namespace

std::string to_prometheus(const json& doc) {
  Writer w(doc.at("name").get<std::string>());
  add_sockets(w, doc);
  add_rules(w, doc);
  add_processes(w, doc);
  const json& overflow = doc.at("overflow");
  w.add("sockshim_lost_cookies_total", "Counts lost because the table of socket kinds was full.",
        "counter", {}, u64(overflow.at("cookies")));
  w.add("sockshim_lost_processes_total", "Processes that found no free record.", "counter", {},
        u64(overflow.at("processes")));
  w.add("sockshim_raced_calls_total", "Transfers that raced a dup2 onto their descriptor.",
        "counter", {}, u64(doc.at("raced").at("calls")));
  w.add("sockshim_events_lost_total", "Decision-log records overwritten by newer ones.", "counter",
        {}, u64(doc.at("events_lost")));
  return w.text();
}

}  // namespace shim::stats
