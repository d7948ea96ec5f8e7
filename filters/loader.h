// The rule-file loader's inside, shared by load.cc (file, rules, `when`), load_match.cc and
// load_actions.cc (`do`, `then`). Not part of the filters API: include table.h instead.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "filters/json_positions.h"
#include "filters/names.h"
#include "filters/table.h"

namespace filters::load_detail {

using nlohmann::json;

constexpr std::uint32_t bit(CallType t) { return 1u << static_cast<unsigned>(t); }
constexpr std::uint32_t kAllCalls = (1u << kCallTypeCount) - 1;

// "expected X, got Y" for a wrong JSON value.
std::string got(const json& v);
// JSON quoting, so a name with a quote or a control character shows its escapes.
std::string in_quotes(std::string_view s);
// Where `key` is in `known`; known.size() when it is not there.
std::size_t key_index(std::span<const char* const> known, const std::string& key);
// "send, recv": the call types in a mask, in CallType order.
std::string call_list(std::uint32_t mask);
// "10.0.0.0/8": as rule files write it (load_match.cc).
std::string cidr_text(const Cidr& c);

class Loader {
 public:
  Loader(const PositionedJson& doc, const std::string& file) : doc_(doc), file_(file) {}
  Table load();

  [[noreturn]] void fail(Position pos, const std::string& key, const std::string& message) const {
    throw LoadError(file_, pos.line, pos.col, key, message);
  }
  [[noreturn]] void fail_value(const std::string& path, const std::string& message) const {
    fail(doc_.value_at(path), path, message);
  }
  Position value_at(const std::string& path) const { return doc_.value_at(path); }
  Position key_at(const std::string& path) const { return doc_.key_at(path); }

  void require_object(const json& v, const std::string& path) const;
  // Unknown keys (the first one written) are errors with a suggestion; then missing required ones.
  void check_keys(const json& object, const std::string& path,
                  std::span<const char* const> known, std::span<const char* const> required) const;
  std::uint64_t read_unsigned(const json& v, const std::string& path, std::uint64_t min,
                              std::uint64_t max = UINT64_MAX) const;
  bool read_bool(const json& v, const std::string& path) const;
  // `true` only: a flag action ("reset": true). false would read as "don't", which is absence.
  void read_true(const json& v, const std::string& path) const;
  // An errno name; EAI_* names are refused unless `eai` is non-null (then they land there).
  int read_errno(const json& v, const std::string& path, int* eai) const;
  // Fails when a rule on a call type outside `allowed` uses the key at `path`.
  void check_applies(const std::string& path, std::string_view what, std::uint32_t on,
                     std::uint32_t allowed) const;

  Match read_match(const json& v, const std::string& path, std::uint32_t on) const;
  When read_when(const json& v, const std::string& path, std::uint32_t on) const;
  Action read_do(const json& v, const std::string& path, std::uint32_t on, const Match& m) const;
  // `v` is the whole `do` (its `filter` goes with inbound_loss); `path` is the `do`'s.
  void read_inbound_loss(const json& v, const std::string& path, const Match& m, Action& a) const;
  void read_rate(const json& value, const std::string& k, const Match& m, Action& a) const;
  After read_then(const json& v, const std::string& path, std::uint32_t on) const;

 private:
  // Fills `rule`, which is already in place in the vector of rules: a Rule is 2 KB.
  void read_rule(const json& v, const std::string& path, Rule& rule);
  std::string read_name(const json& v, const std::string& rule_path);
  std::uint32_t read_on(const json& v, const std::string& path) const;
  std::uint32_t read_call_type(const json& v, const std::string& path) const;

  const PositionedJson& doc_;
  const std::string& file_;
  // Rule name (in the DOM, which outlives the loader) -> path of its rule.
  std::unordered_map<std::string_view, std::string> name_owner_;
  std::string rule_name_;   // of the rule being read, for messages that name it
};

}  // namespace filters::load_detail
