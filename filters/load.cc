// The rule-file loader: JSON text -> validated Rules -> Table. Everything is checked, in
// document order where it matters, and the first problem becomes a LoadError that names the
// file, line, column and key. Unknown keys are errors so that a typo never turns a fault rule
// into a silent no-op, and so that later versions can give those keys a meaning.
#include <fcntl.h>
#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "filters/errno_names.h"
#include "filters/json_positions.h"
#include "filters/names.h"
#include "filters/socket_names.h"
#include "filters/table.h"

namespace filters {
namespace {

using nlohmann::json;

constexpr const char* kTopKeys[] = {"seed", "rules"};
constexpr const char* kTopRequired[] = {"rules"};
constexpr const char* kRuleKeys[] = {"name", "on", "match", "when", "do"};
constexpr const char* kMatchKeys[] = {"family", "type", "protocol", "port"};
constexpr const char* kWhenKeys[] = {"nth", "times"};
constexpr const char* kDoKeys[] = {"fail"};

constexpr std::size_t kMaxRules = std::size_t{std::numeric_limits<std::uint16_t>::max()} + 1;

// What a wrong value is, for "expected X, got Y". Numbers that are not integers are shown, since
// 6379.0 looks like an integer to a person but not to the loader.
std::string got(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::string: return "string";
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer " + v.dump();
    case json::value_t::number_float: return "number " + v.dump();
    default: return "unsupported value";
  }
}

// JSON quoting, so a name with a quote or a control character shows its escapes.
std::string in_quotes(std::string_view s) { return json(std::string(s)).dump(); }

std::span<const char* const> call_type_names() {
  static const auto names = [] {
    std::array<const char*, kCallTypeCount> out{};
    for (std::size_t i = 0; i < kCallTypeCount; ++i) {
      out[i] = call_type_name(static_cast<CallType>(i));
    }
    return out;
  }();
  return names;
}

std::string object_name(const std::string& path) {
  return path.empty() ? std::string("the top-level object") : path;
}

class Loader {
 public:
  Loader(const PositionedJson& doc, const std::string& file) : doc_(doc), file_(file) {}
  Table load();

 private:
  [[noreturn]] void fail(Position pos, const std::string& key, const std::string& message) const {
    throw LoadError(file_, pos.line, pos.col, key, message);
  }
  [[noreturn]] void fail_value(const std::string& path, const std::string& message) const {
    fail(doc_.value_at(path), path, message);
  }

  void require_object(const json& v, const std::string& path) const;
  void check_keys(const json& object, const std::string& path,
                  std::span<const char* const> known, std::span<const char* const> required) const;
  std::uint64_t read_unsigned(const json& v, const std::string& path, std::uint64_t min) const;
  Rule read_rule(const json& v, const std::string& path);
  std::string read_name(const json& v, const std::string& rule_path);
  std::uint32_t read_on(const json& v, const std::string& path) const;
  std::uint32_t read_call_type(const json& v, const std::string& path) const;
  Match read_match(const json& v, const std::string& path) const;
  int read_named(const json& v, const std::string& path, const char* what,
                 std::span<const NamedValue> names, int max) const;
  PortRange read_port(const json& v, const std::string& path) const;
  PortRange read_port_range(std::string_view text, const std::string& path) const;
  When read_when(const json& v, const std::string& path) const;
  Action read_do(const json& v, const std::string& path, std::uint32_t on) const;
  Action read_fail(const json& v, const std::string& path, std::uint32_t on) const;

  const PositionedJson& doc_;
  const std::string& file_;
  std::unordered_map<std::string, std::string> name_owner_;  // rule name -> path of its rule
};

void Loader::require_object(const json& v, const std::string& path) const {
  if (!v.is_object()) fail_value(path, "expected an object, got " + got(v));
}

// Unknown keys first (the one written first, since the DOM does not keep key order), then the
// required ones, so a misspelt required key is reported as misspelt rather than missing.
void Loader::check_keys(const json& object, const std::string& path,
                        std::span<const char* const> known,
                        std::span<const char* const> required) const {
  std::optional<std::string> first_unknown;
  Position first_pos{};
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    const Position pos = doc_.key_at(member_path(path, key));
    if (!first_unknown || pos.line < first_pos.line ||
        (pos.line == first_pos.line && pos.col < first_pos.col)) {
      first_unknown = key;
      first_pos = pos;
    }
  }
  if (first_unknown) {
    fail(first_pos, member_path(path, *first_unknown),
         "unknown key " + in_quotes(*first_unknown) + " in " + object_name(path) +
             " (known: " + join_names(known) + ")");
  }
  for (const char* key : required) {
    if (!object.contains(key)) {
      fail(doc_.value_at(path), path, "missing required key " + in_quotes(key));
    }
  }
}

std::uint64_t Loader::read_unsigned(const json& v, const std::string& path,
                                    std::uint64_t min) const {
  if (v.is_number_integer() && !v.is_number_unsigned()) {
    fail_value(path, "must be at least " + std::to_string(min) + ", got " + v.dump());
  }
  if (!v.is_number_unsigned()) fail_value(path, "expected an integer, got " + got(v));
  const auto n = v.get<std::uint64_t>();
  if (n < min) fail_value(path, "must be at least " + std::to_string(min) + ", got " + v.dump());
  return n;
}

Table Loader::load() {
  const json& root = doc_.value;
  require_object(root, "");
  check_keys(root, "", kTopKeys, kTopRequired);
  const std::uint64_t seed = root.contains("seed") ? read_unsigned(root["seed"], "seed", 0) : 0;
  const json& rules = root["rules"];
  if (!rules.is_array()) fail_value("rules", "expected an array of rules, got " + got(rules));
  if (rules.size() > kMaxRules) {
    fail_value("rules", "too many rules: " + std::to_string(rules.size()) + " (at most " +
                            std::to_string(kMaxRules) + ")");
  }
  std::vector<Rule> out;
  out.reserve(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    out.push_back(read_rule(rules[i], element_path("rules", i)));
  }
  return Table(seed, std::move(out));
}

Rule Loader::read_rule(const json& v, const std::string& path) {
  static constexpr const char* kRequired[] = {"name", "on", "do"};
  require_object(v, path);
  check_keys(v, path, kRuleKeys, kRequired);
  Rule rule;
  rule.pos = doc_.value_at(path);
  rule.name = read_name(v["name"], path);
  rule.on = read_on(v["on"], path + ".on");
  if (v.contains("match")) rule.match = read_match(v["match"], path + ".match");
  if (v.contains("when")) rule.when = read_when(v["when"], path + ".when");
  rule.action = read_do(v["do"], path + ".do", rule.on);
  return rule;
}

// Names are how `sockshim ctl` and the stats address a rule, so they must be unique and
// printable on one line.
std::string Loader::read_name(const json& v, const std::string& rule_path) {
  const std::string path = rule_path + ".name";
  if (!v.is_string()) fail_value(path, "expected a string, got " + got(v));
  const auto& name = v.get_ref<const std::string&>();
  if (name.empty()) fail_value(path, "must not be empty");
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      fail_value(path, "must not contain control characters");
    }
  }
  const auto [it, inserted] = name_owner_.emplace(name, rule_path);
  if (!inserted) {
    const Position first = doc_.value_at(it->second + ".name");
    fail_value(path, "duplicate rule name " + in_quotes(name) + ": " + it->second + " (at " +
                         std::to_string(first.line) + ":" + std::to_string(first.col) +
                         ") has it too");
  }
  return name;
}

std::uint32_t Loader::read_on(const json& v, const std::string& path) const {
  if (v.is_string()) return read_call_type(v, path);
  if (!v.is_array()) {
    fail_value(path, "expected a call type name or an array of them, got " + got(v));
  }
  if (v.empty()) {
    fail_value(path, "must name at least one call type (known: " + join_names(call_type_names()) +
                         ")");
  }
  std::uint32_t on = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string element = element_path(path, i);
    const std::uint32_t bit = read_call_type(v[i], element);
    if (on & bit) fail_value(element, in_quotes(v[i].get<std::string>()) + " is listed twice");
    on |= bit;
  }
  return on;
}

std::uint32_t Loader::read_call_type(const json& v, const std::string& path) const {
  if (!v.is_string()) fail_value(path, "expected a call type name, got " + got(v));
  const auto& name = v.get_ref<const std::string&>();
  const auto t = parse_call_type(name);
  if (!t) {
    const char* guess = closest_name(name, call_type_names());
    fail_value(path, "unknown call type " + in_quotes(name) +
                         (guess ? did_you_mean(guess)
                                : " (known: " + join_names(call_type_names()) + ")"));
  }
  return 1u << static_cast<unsigned>(*t);
}

Match Loader::read_match(const json& v, const std::string& path) const {
  require_object(v, path);
  check_keys(v, path, kMatchKeys, {});
  Match m;
  if (v.contains("family")) {
    m.family = read_named(v["family"], path + ".family", "family", kFamilyNames, kMaxFamily);
  }
  if (v.contains("type")) {
    m.type = read_named(v["type"], path + ".type", "socket type", kTypeNames, kMaxType);
  }
  if (v.contains("protocol")) {
    m.protocol =
        read_named(v["protocol"], path + ".protocol", "protocol", kProtocolNames, kMaxProtocol);
  }
  if (v.contains("port")) m.port = read_port(v["port"], path + ".port");
  return m;
}

// A name from `names`, or a number 0..max for values without one.
int Loader::read_named(const json& v, const std::string& path, const char* what,
                       std::span<const NamedValue> names, int max) const {
  if (v.is_string()) {
    const auto& name = v.get_ref<const std::string&>();
    if (const auto value = value_of(names, name)) return *value;
    const char* guess = closest_name(name, names);
    fail_value(path, std::string("unknown ") + what + " " + in_quotes(name) +
                         (guess ? did_you_mean(guess)
                                : " (known: " + join_names(names) + ", or a number)"));
  }
  if (!v.is_number_integer()) fail_value(path, "expected a name or an integer, got " + got(v));
  if (v.is_number_unsigned() && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(max)) {
    return static_cast<int>(v.get<std::uint64_t>());
  }
  fail_value(path, v.dump() + " is out of range 0.." + std::to_string(max));
}

PortRange Loader::read_port(const json& v, const std::string& path) const {
  if (v.is_string()) return read_port_range(v.get_ref<const std::string&>(), path);
  if (!v.is_number_integer()) {
    fail_value(path, "expected a port (0..65535) or a range like \"1024-65535\", got " + got(v));
  }
  if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 65535) {
    fail_value(path, "port " + v.dump() + " is out of range 0..65535");
  }
  const auto port = static_cast<std::uint16_t>(v.get<std::uint64_t>());
  return PortRange{port, port};
}

// "FIRST-LAST", decimal, inclusive. A single port is written as a number; a string is reserved
// for ranges (and, later, service names), so "8080" is an error rather than a guess.
PortRange Loader::read_port_range(std::string_view text, const std::string& path) const {
  const auto dash = text.find('-');
  const auto parse = [&](std::string_view digits) -> std::optional<std::uint64_t> {
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return n;
  };
  const auto first = dash == std::string_view::npos ? std::nullopt : parse(text.substr(0, dash));
  const auto last = dash == std::string_view::npos ? std::nullopt : parse(text.substr(dash + 1));
  if (!first || !last) {
    fail_value(path, "expected a port range \"FIRST-LAST\" like \"1024-65535\", got " +
                         in_quotes(text) + " (write a single port as a number)");
  }
  for (const std::uint64_t n : {*first, *last}) {
    if (n > 65535) {
      fail_value(path, "port range " + in_quotes(text) + ": " + std::to_string(n) +
                           " is out of range 0..65535");
    }
  }
  if (*first > *last) {
    fail_value(path, "port range " + in_quotes(text) + " is reversed: " + std::to_string(*first) +
                         " > " + std::to_string(*last));
  }
  return PortRange{static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last)};
}

When Loader::read_when(const json& v, const std::string& path) const {
  require_object(v, path);
  check_keys(v, path, kWhenKeys, {});
  When w;
  if (v.contains("nth")) w.nth = read_unsigned(v["nth"], path + ".nth", 1);
  if (v.contains("times")) w.times = read_unsigned(v["times"], path + ".times", 1);
  return w;
}

Action Loader::read_do(const json& v, const std::string& path, std::uint32_t on) const {
  static constexpr const char* kRequired[] = {"fail"};
  require_object(v, path);
  check_keys(v, path, kDoKeys, kRequired);
  return read_fail(v["fail"], path + ".fail", on);
}

Action Loader::read_fail(const json& v, const std::string& path, std::uint32_t on) const {
  const std::uint32_t gai_bit = 1u << static_cast<unsigned>(CallType::kGetaddrinfo);
  const bool gai_only = on == gai_bit;
  if (v.is_number()) {
    const bool small = v.is_number_unsigned() && v.get<std::uint64_t>() <= 4095;
    const char* here = small ? errno_name(v.get<int>()) : nullptr;
    fail_value(path, "expected an errno name like \"ECONNREFUSED\", got " + got(v) +
                         ": errno numbers differ between platforms, so rules use names" +
                         (here ? std::string(" (") + v.dump() + " is " + here + " here)" : ""));
  }
  if (!v.is_string()) fail_value(path, "expected an errno name, got " + got(v));
  const auto& name = v.get_ref<const std::string&>();
  if (const auto err = errno_from_name(name)) {
    // The shim reads eai only on getaddrinfo, which reports an errno through EAI_SYSTEM.
    return Action{ActionKind::kFail, *err, (on & gai_bit) ? EAI_SYSTEM : 0};
  }
  if (const auto eai = eai_from_name(name)) {
    if (!gai_only) {
      fail_value(path, name + " is a getaddrinfo error: only a rule whose \"on\" is exactly "
                              "[\"getaddrinfo\"] can use it; use an errno name here");
    }
    if (*eai == EAI_SYSTEM) {
      fail_value(path, "EAI_SYSTEM means \"see errno\": write the errno name instead (e.g. "
                       "\"ECONNREFUSED\") and getaddrinfo returns EAI_SYSTEM with that errno");
    }
    return Action{ActionKind::kFail, 0, *eai};
  }
  fail_value(path, std::string(gai_only ? "unknown errno or EAI name " : "unknown errno name ") +
                       in_quotes(name) + did_you_mean(suggest_errno_name(name, gai_only)));
}

}  // namespace

Table load_table_text(std::string_view text, const std::string& file) {
  PositionedJson doc;
  try {
    doc = parse_json_with_positions(text);
  } catch (const JsonSyntaxError& e) {
    throw LoadError(file, e.pos().line, e.pos().col, e.path(), e.what());
  }
  return Loader(doc, file).load();
}

Table load_table_file(const std::string& path) {
  // POSIX read rather than ifstream, so the message can say why (ENOENT, EACCES, EISDIR).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const auto cannot_read = [&](int err) {
    return LoadError(path, 0, 0, "", "cannot read: " + std::generic_category().message(err));
  };
  if (fd < 0) throw cannot_read(errno);
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw cannot_read(err);
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return load_table_text(text, path);
}

}  // namespace filters
