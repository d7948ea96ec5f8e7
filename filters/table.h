// The filter table: a JSON rule file turned into an immutable Table. Loading may allocate and
// throw (it runs before the program's main, or in the `sockshim` command); matching never does,
// because the shim calls it from inside wrapped calls.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "filters/call_type.h"

namespace filters {

// What the shim knows about the call it is deciding on: plain values, -1 when unknown.
struct SocketFacts {
  int family = -1;        // AF_*
  int type = -1;          // SOCK_* without SOCK_NONBLOCK/SOCK_CLOEXEC
  int protocol = -1;      // as SO_PROTOCOL reports it (TCP is 6)
  int service_port = -1;  // the peer's port on a socket that connects or sends to an address,
                          // the local port on a bound, listening or accepted socket
};

struct PortRange {
  std::uint16_t first = 0, last = 65535;   // inclusive
  bool contains(int port) const noexcept { return port >= first && port <= last; }
};

// Absent keys match everything.
struct Match {
  std::optional<int> family, type, protocol;
  std::optional<PortRange> port;
  bool matches(const SocketFacts& f) const noexcept;
};

// When a matched rule acts. Counters are the caller's (they live in the shared stats segment so
// all threads and processes of a run share them).
struct When {
  std::uint64_t nth = 0;    // act on every nth hit (the nth, 2nth, ...); 0 or 1: on every hit
  std::uint64_t times = 0;  // act at most this many times in all; 0: no limit
  // hit is the 1-based number of this hit. The caller also enforces `times` with its counter.
  bool selects(std::uint64_t hit) const noexcept { return nth <= 1 || hit % nth == 0; }
};

enum class ActionKind : std::uint8_t { kNone, kFail };

struct Action {
  ActionKind kind = ActionKind::kNone;
  int err = 0;   // kFail: the errno the program sees
  int eai = 0;   // kFail on getaddrinfo: the EAI_* code returned (EAI_SYSTEM when err is used)
};

// Where a rule was written, for messages.
struct Position { int line = 0, col = 0; };

struct Rule {
  std::string name;        // unique in the table
  std::uint32_t on = 0;    // bit (1u << CallType) per call type
  Match match;
  When when;
  Action action;
  Position pos;
  bool on_call(CallType t) const noexcept { return (on >> static_cast<unsigned>(t)) & 1u; }
};

class Table {
 public:
  Table() = default;
  explicit Table(std::uint64_t seed, std::vector<Rule> rules);

  std::uint64_t seed() const noexcept { return seed_; }
  const std::vector<Rule>& rules() const noexcept { return rules_; }
  bool has_rules_for(CallType t) const noexcept { return !by_type_[idx(t)].empty(); }

  // Index (into rules()) of the first rule after index `after`, in file order, that is on `t`
  // and whose match accepts `f`; -1 when none. No allocation, no locks. Rules that name ports are
  // indexed by a port bitmap, so many rules that cannot match cost one bit test.
  int first_match(CallType t, const SocketFacts& f, int after = -1) const noexcept;

 private:
  static std::size_t idx(CallType t) noexcept { return static_cast<std::size_t>(t); }
  std::uint64_t seed_ = 0;
  std::vector<Rule> rules_;
  std::array<std::vector<std::uint16_t>, kCallTypeCount> by_type_;   // rule indices, file order
  std::array<bool, kCallTypeCount> has_portless_{};                  // some rule has no port key
  std::array<std::shared_ptr<const std::bitset<65536>>, kCallTypeCount> ports_;  // ports named
  // The same rule lists split by the family they accept (rules without a family key are in every
  // list), so rules for other families are never looked at. Families >= kFamilySlots use by_type_.
  static constexpr int kFamilySlots = 48;
  std::array<std::array<std::vector<std::uint16_t>, kFamilySlots>, kCallTypeCount> by_family_;
};

// A rule file that cannot be used. what() is "FILE:LINE:COL: KEY: what is wrong", e.g.
// "rules.json:4:25: rules[0].do.fail: unknown errno name \"ECONREFUSED\" (did you mean ECONNREFUSED?)".
class LoadError : public std::runtime_error {
 public:
  LoadError(std::string file, int line, int col, std::string key, std::string message);
  const std::string& file() const noexcept { return file_; }
  int line() const noexcept { return line_; }
  int col() const noexcept { return col_; }
  const std::string& key() const noexcept { return key_; }      // "rules[0].do.fail"; "" for syntax
  const std::string& message() const noexcept { return message_; }
 private:
  std::string file_, key_, message_;
  int line_, col_;
};

// Parse and validate. Unknown keys, wrong types, unknown names and out-of-range numbers are
// errors, never ignored. `file` is only used in messages.
Table load_table_text(std::string_view text, const std::string& file);
Table load_table_file(const std::string& path);   // throws LoadError also when unreadable (0:0)

// Human-readable listing of what was understood, one rule per line (`sockshim check`).
std::string describe(const Table& t);

}  // namespace filters
