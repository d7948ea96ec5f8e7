// The rule-file loader: JSON text -> validated Rules -> Table. Everything is checked, in
// document order where it matters, and the first problem becomes a LoadError that names the
// file, line, column and key. Unknown keys are errors so that a typo never turns a fault rule
// into a silent no-op, and so that later versions can give those keys a meaning.
// This file: the document, rules, names, `on` and `when`; match and actions have their own files.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "filters/errno_names.h"
#include "filters/loader.h"

namespace filters {
namespace load_detail {
namespace {

// "$schema" lets editors find docs/filters.schema.json; the loader only checks it is a string.
constexpr const char* kTopKeys[] = {"$schema", "seed", "rules"};
constexpr const char* kTopRequired[] = {"rules"};
constexpr const char* kRuleKeys[] = {"name", "on", "match", "when", "do", "then", "enabled"};
enum RuleKey : std::size_t { kName, kOn, kMatch, kWhen, kDo, kThen, kEnabled };   // kRuleKeys' order
constexpr const char* kWhenKeys[] = {"probability", "nth",         "after",       "times",
                                     "from_ms",     "until_ms",    "after_bytes", "after_connected_ms",
                                     "count"};

// Calls made on a socket that may already have moved bytes or be connected. socket and
// getaddrinfo have no socket yet; connect, bind, listen and accept act on one that is not
// connected (accept's own socket is the listener).
constexpr std::uint32_t kConnectedCalls = bit(CallType::kClose) | bit(CallType::kShutdown) |
                                          bit(CallType::kGetsockopt) | bit(CallType::kSetsockopt) |
                                          bit(CallType::kSend) | bit(CallType::kRecv);
constexpr std::uint32_t kSocketCalls = kAllCalls & ~bit(CallType::kGetaddrinfo);

std::string object_name(const std::string& path) {
  return path.empty() ? std::string("the top-level object") : path;
}

}  // namespace

std::string got(const json& v) {
  // Numbers that are not integers are shown, since 6379.0 looks like an integer to a person.
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

std::string in_quotes(std::string_view s) { return json(std::string(s)).dump(); }

std::size_t key_index(std::span<const char* const> known, const std::string& key) {
  // The first characters first: known keys mostly differ there, and a whole comparison with a
  // const char* measures it (strlen) every time.
  const auto is_key = [&](const char* k) { return k[0] == key[0] && key == k; };
  return static_cast<std::size_t>(std::find_if(known.begin(), known.end(), is_key) - known.begin());
}

std::string call_list(std::uint32_t mask) {
  std::string out;
  for (std::size_t i = 0; i < kCallTypeCount; ++i) {
    if (!((mask >> i) & 1u)) continue;
    if (!out.empty()) out += ", ";
    out += call_type_name(static_cast<CallType>(i));
  }
  return out;
}

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
    // The first characters first: known keys mostly differ there, and a whole comparison with a
    // const char* measures it (strlen) every time.
    if (key_index(known, key) < known.size()) continue;
    const Position pos = key_at(member_path(path, key));
    if (!first_unknown || pos.line < first_pos.line ||
        (pos.line == first_pos.line && pos.col < first_pos.col)) {
      first_unknown = key;
      first_pos = pos;
    }
  }
  if (first_unknown) {
    const char* guess = closest_name(*first_unknown, known);
    // "delay" for "delay_ms": too many edits for closest_name, but plainly the same key.
    for (const char* k : known) {
      if (guess == nullptr && first_unknown->size() >= 3 &&
          std::string_view(k).starts_with(*first_unknown)) {
        guess = k;
      }
    }
    fail(first_pos, member_path(path, *first_unknown),
         "unknown key " + in_quotes(*first_unknown) + " in " + object_name(path) +
             (guess ? did_you_mean(guess) : " (known: " + join_names(known) + ")"));
  }
  for (const char* key : required) {
    if (!object.contains(key)) {
      fail(value_at(path), path, "missing required key " + in_quotes(key));
    }
  }
}

std::uint64_t Loader::read_unsigned(const json& v, const std::string& path, std::uint64_t min,
                                    std::uint64_t max) const {
  const std::string range = max == UINT64_MAX ? "must be at least " + std::to_string(min)
                                              : "must be in " + std::to_string(min) + ".." +
                                                    std::to_string(max);
  if (v.is_number_integer() && !v.is_number_unsigned()) fail_value(path, range + ", got " + v.dump());
  if (!v.is_number_unsigned()) fail_value(path, "expected an integer, got " + got(v));
  const auto n = v.get<std::uint64_t>();
  if (n < min || n > max) fail_value(path, range + ", got " + v.dump());
  return n;
}

bool Loader::read_bool(const json& v, const std::string& path) const {
  if (!v.is_boolean()) fail_value(path, "expected true or false, got " + got(v));
  return v.get<bool>();
}

void Loader::read_true(const json& v, const std::string& path) const {
  if (!read_bool(v, path)) fail_value(path, "write true, or leave the key out");
}

int Loader::read_errno(const json& v, const std::string& path, int* eai) const {
  if (v.is_number()) {
    const bool small = v.is_number_unsigned() && v.get<std::uint64_t>() <= 4095;
    const char* here = small ? errno_name(v.get<int>()) : nullptr;
    fail_value(path, "expected an errno name like \"ECONNREFUSED\", got " + got(v) +
                         ": errno numbers differ between platforms, so rules use names" +
                         (here ? std::string(" (") + v.dump() + " is " + here + " here)" : ""));
  }
  if (!v.is_string()) fail_value(path, "expected an errno name, got " + got(v));
  const auto& name = v.get_ref<const std::string&>();
  if (const auto err = errno_from_name(name)) return *err;
  if (const auto code = eai_from_name(name)) {
    if (eai == nullptr) {
      fail_value(path, name + " is a getaddrinfo error: only a rule whose \"on\" is exactly "
                              "[\"getaddrinfo\"] can use it in \"do\"; use an errno name here");
    }
    if (*code == EAI_SYSTEM) {
      fail_value(path, "EAI_SYSTEM means \"see errno\": write the errno name instead (e.g. "
                       "\"ECONNREFUSED\") and getaddrinfo returns EAI_SYSTEM with that errno");
    }
    *eai = *code;
    return 0;
  }
  const bool with_eai = eai != nullptr;
  fail_value(path, std::string(with_eai ? "unknown errno or EAI name " : "unknown errno name ") +
                       in_quotes(name) + did_you_mean(suggest_errno_name(name, with_eai)));
}

void Loader::check_applies(const std::string& path, std::string_view what, std::uint32_t on,
                           std::uint32_t allowed) const {
  const std::uint32_t bad = on & ~allowed;
  if (bad == 0) return;
  const auto first = static_cast<CallType>(__builtin_ctz(bad));
  fail_value(path, std::string(what) + " cannot apply to " + call_type_name(first) + " (only to " +
                       call_list(allowed) + ")");
}

Table Loader::load() {
  const json& root = doc_.value;
  require_object(root, "");
  check_keys(root, "", kTopKeys, kTopRequired);
  if (root.contains("$schema") && !root["$schema"].is_string()) {
    fail_value(member_path("", "$schema"), "expected a string, got " + got(root["$schema"]));
  }
  const std::uint64_t seed = root.contains("seed") ? read_unsigned(root["seed"], "seed", 0) : 0;
  const json& rules = root["rules"];
  if (!rules.is_array()) fail_value("rules", "expected an array of rules, got " + got(rules));
  if (rules.size() > kMaxRules) {
    const std::string first_extra = element_path("rules", kMaxRules);
    fail_value(first_extra, "too many rules: " + std::to_string(rules.size()) + " (at most " +
                                std::to_string(kMaxRules) + ", one per slot of the stats segment)");
  }
  std::vector<Rule> out(rules.size());
  name_owner_.reserve(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) read_rule(rules[i], element_path("rules", i), out[i]);
  return Table(seed, std::move(out));
}

void Loader::read_rule(const json& v, const std::string& path, Rule& rule) {
  static constexpr const char* kRequired[] = {"name", "on"};
  require_object(v, path);
  check_keys(v, path, kRuleKeys, kRequired);
  // Every member in one pass over the object (check_keys left only known keys), instead of a
  // look-up by a const char* key, measured and compared again, for each of a dozen questions.
  std::array<const json*, std::size(kRuleKeys)> m{};
  for (auto it = v.begin(); it != v.end(); ++it) m[key_index(kRuleKeys, it.key())] = &it.value();
  rule.pos = value_at(path);
  rule.name = read_name(*m[kName], path);
  rule_name_ = rule.name.c_str();
  rule.on = read_on(*m[kOn], path + ".on");
  if (m[kMatch]) rule.match = read_match(*m[kMatch], path + ".match", rule.on);
  if (m[kWhen]) rule.when = read_when(*m[kWhen], path + ".when", rule.on);
  if (!m[kDo] && !m[kThen]) {
    fail(value_at(path), path, "needs an action: \"do\" (before the call), \"then\" (after it), or both");
  }
  if (m[kDo]) rule.action = read_do(*m[kDo], path + ".do", rule.on, rule.match);
  if (m[kThen]) {
    rule.then = read_then(*m[kThen], path + ".then", rule.on);
    if (rule.action.skips_call()) {
      fail_value(path + ".then", "cannot follow this \"do\": its action answers the call instead "
                                 "of running it, so there is no result for \"then\" to change");
    }
  }
  if (m[kEnabled]) rule.enabled = read_bool(*m[kEnabled], path + ".enabled");
}

// Names are how `sockshim ctl` and the stats address a rule, so they must be unique and
// printable on one line.
std::string Loader::read_name(const json& v, const std::string& rule_path) {
  const std::string path = rule_path + ".name";
  if (!v.is_string()) fail_value(path, "expected a string, got " + got(v));
  const auto& name = v.get_ref<const std::string&>();
  if (name.empty()) fail_value(path, "must not be empty");
  // Longer names would be cut in the stats segment, where ctl and the report look them up.
  if (name.size() > kMaxRuleName) {
    fail_value(path, "too long: " + std::to_string(name.size()) + " bytes (at most " +
                         std::to_string(kMaxRuleName) + " bytes of UTF-8)");
  }
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      fail_value(path, "must not contain control characters");
    }
  }
  const auto [it, inserted] = name_owner_.emplace(name, rule_path);
  if (!inserted) {
    const Position first = value_at(it->second + ".name");
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
    fail_value(path, "must name at least one call type (known: " + call_list(kAllCalls) + ")");
  }
  std::uint32_t on = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    // The element's path only for a message: building it for every element of every rule's
    // "on" was a tenth of loading.
    const json& e = v[i];
    const auto t = e.is_string() ? parse_call_type(e.get_ref<const std::string&>()) : std::nullopt;
    const std::uint32_t b = t ? bit(*t) : read_call_type(e, element_path(path, i));
    if (on & b) fail_value(element_path(path, i), in_quotes(e.get<std::string>()) + " is listed twice");
    on |= b;
  }
  return on;
}

std::uint32_t Loader::read_call_type(const json& v, const std::string& path) const {
  if (!v.is_string()) fail_value(path, "expected a call type name, got " + got(v));
  const auto& name = v.get_ref<const std::string&>();
  const auto t = parse_call_type(name);
  if (!t) {
    std::array<const char*, kCallTypeCount> names{};
    for (std::size_t i = 0; i < kCallTypeCount; ++i) names[i] = call_type_name(static_cast<CallType>(i));
    const char* guess = closest_name(name, names);
    fail_value(path, "unknown call type " + in_quotes(name) +
                         (guess ? did_you_mean(guess) : " (known: " + call_list(kAllCalls) + ")"));
  }
  return bit(*t);
}

When Loader::read_when(const json& v, const std::string& path, std::uint32_t on) const {
  require_object(v, path);
  check_keys(v, path, kWhenKeys, {});
  When w;
  if (v.contains("probability")) {
    const json& p = v["probability"];
    const std::string key = path + ".probability";
    if (!p.is_number()) fail_value(key, "expected a number from 0 to 1, got " + got(p));
    w.probability = p.get<double>();
    if (!(w.probability >= 0.0 && w.probability <= 1.0)) {
      fail_value(key, "must be from 0 to 1 (a fraction, not a percentage), got " + p.dump());
    }
  }
  if (v.contains("nth")) w.nth = read_unsigned(v["nth"], path + ".nth", 1);
  if (v.contains("after")) w.after = read_unsigned(v["after"], path + ".after", 0);
  if (v.contains("times")) w.times = read_unsigned(v["times"], path + ".times", 1);
  if (v.contains("from_ms")) w.from_ms = read_unsigned(v["from_ms"], path + ".from_ms", 0);
  if (v.contains("until_ms")) w.until_ms = read_unsigned(v["until_ms"], path + ".until_ms", 1);
  if (w.from_ms && w.until_ms && *w.from_ms >= *w.until_ms) {
    fail_value(path + ".until_ms", "the window is empty: until_ms (" + std::to_string(*w.until_ms) +
                                       ") must be greater than from_ms (" +
                                       std::to_string(*w.from_ms) + ")");
  }
  if (v.contains("after_bytes")) {
    w.after_bytes = read_unsigned(v["after_bytes"], path + ".after_bytes", 0);
    check_applies(path + ".after_bytes", "after_bytes (bytes moved by a connected socket)", on,
                  kConnectedCalls);
  }
  if (v.contains("after_connected_ms")) {
    w.after_connected_ms = read_unsigned(v["after_connected_ms"], path + ".after_connected_ms", 0);
    check_applies(path + ".after_connected_ms", "after_connected_ms (time since a socket connected)",
                  on, kConnectedCalls);
  }
  if (v.contains("count")) {
    const json& c = v["count"];
    const std::string key = path + ".count";
    if (!c.is_string()) fail_value(key, "expected \"run\" or \"socket\", got " + got(c));
    const auto& s = c.get_ref<const std::string&>();
    if (s == "run") {
      w.count = Count::kRun;
    } else if (s == "socket") {
      w.count = Count::kSocket;
      check_applies(key, "count \"socket\" (counters per socket)", on, kSocketCalls & ~bit(CallType::kSocket));
    } else {
      fail_value(key, "expected \"run\" or \"socket\", got " + in_quotes(s));
    }
  }
  return w;
}

namespace {

std::string size_text(std::size_t bytes) { return std::to_string(bytes) + " bytes"; }

// `bytes`: the size when known (a pipe's is not).
LoadError too_big(const std::string& file, std::optional<std::size_t> bytes) {
  const std::string limit = size_text(kMaxFileBytes) + " (1 MiB)";
  return LoadError(file, 0, 0, "",
                   bytes ? "too big: " + size_text(*bytes) + ", the limit is " + limit
                         : "too big: more than the limit of " + limit);
}

// For messages: what a file that is not a regular file is.
const char* kind_name(mode_t mode) {
  if (S_ISDIR(mode)) return "directory";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISFIFO(mode)) return "pipe or FIFO";
  return "unknown file type";
}

// Throws unless `mode` is a kind `kinds` accepts.
void check_kind(const std::string& path, mode_t mode, FileKinds kinds) {
  if (S_ISREG(mode)) return;
  if (S_ISFIFO(mode) && kinds == FileKinds::kRegularOrPipe) return;
  throw LoadError(path, 0, 0, "",
                  std::string(kinds == FileKinds::kRegularOnly ? "not a regular file ("
                                                               : "not a regular file or pipe (") +
                      kind_name(mode) + ")" +
                      (S_ISFIFO(mode) ? ": reading it could block the program before its main "
                                        "(sockshim run reads pipes)"
                                      : ""));
}

LoadError cannot_read(const std::string& path, int err) {
  return LoadError(path, 0, 0, "", "cannot read: " + std::generic_category().message(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { ::close(fd_); }
  int get() const { return fd_; }
 private:
  int fd_;
};

// Everything up to end of file, from a descriptor opened O_NONBLOCK. One byte past the limit
// tells a file at the limit from a bigger one, whose size a pipe cannot tell.
std::string read_all(int fd, const std::string& path, int wait_ms) {
  std::string text;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, kMaxFileBytes + 1 - text.size()));
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
      if (text.size() > kMaxFileBytes) throw too_big(path, std::nullopt);
      continue;
    }
    if (n == 0) return text;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw cannot_read(path, errno);
    // A pipe whose writer has more to say (or keeps it open): wait, but not for ever.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      throw LoadError(path, 0, 0, "",
                      "the pipe's writer did not finish within " + std::to_string(wait_ms) +
                          " ms (a rule file must be written and closed at once)");
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, INT_MAX))) < 0 &&
        errno != EINTR) {
      throw cannot_read(path, errno);
    }
  }
}

}  // namespace
}  // namespace load_detail

std::string read_rule_file(const std::string& path, FileKinds kinds, int wait_ms) {
  using load_detail::cannot_read, load_detail::check_kind;
  // POSIX calls rather than ifstream, so the message can say why (ENOENT, EACCES). The kind
  // first, from the path: opening a device may have effects, and a FIFO may block.
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) throw cannot_read(path, errno);
  check_kind(path, st.st_mode, kinds);
  if (S_ISREG(st.st_mode) && static_cast<std::uintmax_t>(st.st_size) > kMaxFileBytes) {
    throw load_detail::too_big(path, static_cast<std::size_t>(st.st_size));
  }
  // O_NONBLOCK: a FIFO opens at once even without a writer. The kind is checked again once
  // open, in case the path names something else by now.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) throw cannot_read(path, errno);
  const load_detail::Fd closer(fd);
  if (::fstat(fd, &st) != 0) throw cannot_read(path, errno);
  check_kind(path, st.st_mode, kinds);
  return load_detail::read_all(fd, path, wait_ms);
}

Table load_table_text(std::string_view text, const std::string& file) {
  if (text.size() > kMaxFileBytes) throw load_detail::too_big(file, text.size());
  PositionedJson doc;
  try {
    doc = parse_json_with_positions(text, kMaxDepth);
  } catch (const JsonSyntaxError& e) {
    throw LoadError(file, e.pos().line, e.pos().col, e.path(), e.what());
  }
  return load_detail::Loader(doc, file).load();
}

Table load_table_file(const std::string& path, FileKinds kinds) {
  return load_table_text(read_rule_file(path, kinds), path);
}

}  // namespace filters
