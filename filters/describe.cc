// What `sockshim check` prints: the table as the loader understood it, in the rule file's own
// vocabulary, so a reader can compare it with what they meant to write.
#include <string>

#include "filters/errno_names.h"
#include "filters/socket_names.h"
#include "filters/table.h"

namespace filters {
namespace {

// The rule-file name when there is one, else the number (which the file may also have used).
std::string name_or_number(std::span<const NamedValue> names, int value) {
  const char* name = name_of(names, value);
  return name != nullptr ? std::string(name) : std::to_string(value);
}

std::string describe_on(const Rule& r) {
  std::string out;
  for (std::size_t i = 0; i < kCallTypeCount; ++i) {
    const auto t = static_cast<CallType>(i);
    if (!r.on_call(t)) continue;
    if (!out.empty()) out += ',';
    out += call_type_name(t);
  }
  return out;
}

std::string describe_match(const Match& m) {
  std::string out;
  const auto field = [&out](const char* key, const std::string& value) {
    out += out.empty() ? "  match " : " ";
    out += key;
    out += '=';
    out += value;
  };
  if (m.family) field("family", name_or_number(kFamilyNames, *m.family));
  if (m.type) field("type", name_or_number(kTypeNames, *m.type));
  if (m.protocol) field("protocol", name_or_number(kProtocolNames, *m.protocol));
  if (m.port) {
    std::string ports = std::to_string(m.port->first);
    if (m.port->last != m.port->first) ports += '-' + std::to_string(m.port->last);
    field("port", ports);
  }
  return out;
}

std::string describe_when(const When& w) {
  std::string out;
  if (w.nth > 0) out += " nth=" + std::to_string(w.nth);
  if (w.times > 0) out += " times=" + std::to_string(w.times);
  return out.empty() ? out : "  when" + out;
}

std::string describe_action(const Action& a) {
  if (a.kind != ActionKind::kFail) return "  do nothing";
  // An errno is what the rule file named even on getaddrinfo (where it travels as EAI_SYSTEM).
  const char* name = a.err != 0 ? errno_name(a.err) : eai_name(a.eai);
  if (name != nullptr) return std::string("  do fail ") + name;
  return "  do fail " + std::to_string(a.err != 0 ? a.err : a.eai);
}

}  // namespace

std::string describe(const Table& t) {
  const std::size_t n = t.rules().size();
  std::string out = "seed " + std::to_string(t.seed()) + ", " + std::to_string(n) +
                    (n == 1 ? " rule\n" : " rules\n");
  for (const Rule& r : t.rules()) {
    out += r.name + "  on " + describe_on(r) + describe_match(r.match) + describe_when(r.when) +
           describe_action(r.action) + '\n';
  }
  return out;
}

}  // namespace filters
