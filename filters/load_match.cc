// Loading `match`: names or numbers for family/type/protocol and socket options, ports and port
// ranges, CIDRs, globs and role. A key that can never be known for one of the rule's call types
// (a peer address on `bind`, a host on `send`) is an error rather than a rule that never fires.
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

#include "filters/loader.h"
#include "filters/socket_names.h"
#include "filters/sockopt_names.h"

namespace filters::load_detail {
namespace {

constexpr const char* kMatchKeys[] = {"family", "type",       "protocol",  "peer",  "local",
                                      "port",   "local_port", "peer_port", "path",  "argv0",
                                      "role",   "level",      "option",    "host"};

constexpr std::uint32_t kGai = bit(CallType::kGetaddrinfo);
constexpr std::uint32_t kSockopt = bit(CallType::kGetsockopt) | bit(CallType::kSetsockopt);
// A socket's own address and the unix path exist once it is bound or connected: not on socket
// (which creates it) nor getaddrinfo (no socket at all).
constexpr std::uint32_t kHasLocal = kAllCalls & ~bit(CallType::kSocket) & ~kGai;
// The peer: the address connected or sent to, or the other end of a connected socket. bind,
// listen and accept (whose socket is the listener) have none.
constexpr std::uint32_t kHasPeer = bit(CallType::kConnect) | bit(CallType::kClose) |
                                   bit(CallType::kShutdown) | kSockopt | bit(CallType::kSend) |
                                   bit(CallType::kRecv);
constexpr std::uint32_t kHasRole = kHasPeer & ~bit(CallType::kConnect);

constexpr NamedValue kRoles[] = {{"client", static_cast<int>(Role::kClient)},
                                 {"server", static_cast<int>(Role::kServer)}};

constexpr int kMaxLevel = 65535;
constexpr int kMaxOption = 65535;

std::optional<std::uint64_t> parse_decimal(std::string_view digits) {
  if (digits.empty() || digits.size() > 9) return std::nullopt;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

// The CIDR with its host bits cleared: what "10.0.0.1/8" most likely meant.
Cidr network_of(const Cidr& c) {
  Cidr n = c;
  for (int i = 0; i < 16; ++i) {
    const int keep = std::min(8, std::max(0, c.prefix - 8 * i));
    n.bytes[static_cast<std::size_t>(i)] &= static_cast<std::uint8_t>(0xff00u >> keep);
  }
  return n;
}

class MatchReader {
 public:
  MatchReader(const Loader& l, const json& v, const std::string& path, std::uint32_t on)
      : l_(l), v_(v), path_(path), on_(on) {}

  Match read() {
    l_.require_object(v_, path_);
    l_.check_keys(v_, path_, kMatchKeys, {});
    Match m;
    if (has("family")) m.family = named("family", "family", kFamilyNames, kMaxFamily);
    if (has("type")) m.type = named("type", "socket type", kTypeNames, kMaxType);
    if (has("protocol")) m.protocol = named("protocol", "protocol", kProtocolNames, kMaxProtocol);
    if (has("port", kAllCalls & ~bit(CallType::kSocket), "port")) m.port = port("port");
    if (has("local_port", kHasLocal, "local_port")) m.local_port = port("local_port");
    if (has("peer_port", kHasPeer, "peer_port")) m.peer_port = port("peer_port");
    if (has("peer", kHasPeer, "a peer address")) m.peer = cidr("peer");
    if (has("local", kHasLocal, "a local address")) m.local = cidr("local");
    if (has("path", kHasLocal, "a unix path")) m.path = glob("path");
    if (has("argv0")) m.argv0 = glob("argv0");
    if (has("host")) {
      if (on_ != kGai) {
        l_.fail_value(key("host"), "a host applies only to getaddrinfo: the rule's \"on\" must "
                                   "be exactly [\"getaddrinfo\"]");
      }
      m.host = glob("host");
    }
    if (has("role", kHasRole, "role (client: connected, server: accepted)")) {
      m.role = static_cast<Role>(named("role", "role", kRoles, -1));
    }
    if (has("level", kSockopt, "level")) {
      m.level = named("level", "socket option level", sockopt_levels(), kMaxLevel);
    }
    if (has("option", kSockopt, "option")) option(m);
    return m;
  }

 private:
  std::string key(const char* k) const { return path_ + "." + k; }
  bool has(const char* k) const { return v_.contains(k); }
  bool has(const char* k, std::uint32_t allowed, std::string_view what) const {
    if (!v_.contains(k)) return false;
    if (on_ & ~allowed) l_.check_applies(key(k), what, on_, allowed);   // fails: build the path
    return true;
  }

  // A name from `names`, or a number 0..max for values without one (max < 0: names only).
  int named(const char* k, const char* what, std::span<const NamedValue> names, int max) const {
    const json& v = v_[k];
    if (v.is_string()) {
      const auto& name = v.get_ref<const std::string&>();
      if (const auto value = value_of(names, name)) return *value;
      const char* guess = closest_name(name, names);
      l_.fail_value(key(k), std::string("unknown ") + what + " " + in_quotes(name) +
                                (guess ? did_you_mean(guess)
                                       : " (known: " + join_names(names) +
                                             (max >= 0 ? ", or a number)" : ")")));
    }
    if (max < 0) l_.fail_value(key(k), "expected one of " + join_names(names) + ", got " + got(v));
    if (!v.is_number_integer()) l_.fail_value(key(k), "expected a name or an integer, got " + got(v));
    if (v.is_number_unsigned() && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(max)) {
      return static_cast<int>(v.get<std::uint64_t>());
    }
    l_.fail_value(key(k), v.dump() + " is out of range 0.." + std::to_string(max));
  }

  PortRange port(const char* k) const {
    const json& v = v_[k];
    if (v.is_string()) return port_range(v.get_ref<const std::string&>(), key(k));
    if (!v.is_number_integer()) {
      l_.fail_value(key(k), "expected a port (0..65535) or a range like \"1024-65535\", got " + got(v));
    }
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 65535) {
      l_.fail_value(key(k), "port " + v.dump() + " is out of range 0..65535");
    }
    const auto p = static_cast<std::uint16_t>(v.get<std::uint64_t>());
    return PortRange{p, p};
  }

  // "FIRST-LAST", decimal, inclusive. A single port is written as a number; a string is reserved
  // for ranges (and, later, service names), so "8080" is an error rather than a guess.
  PortRange port_range(std::string_view text, const std::string& k) const {
    const auto dash = text.find('-');
    const auto first = dash == std::string_view::npos ? std::nullopt : parse_decimal(text.substr(0, dash));
    const auto last = dash == std::string_view::npos ? std::nullopt : parse_decimal(text.substr(dash + 1));
    if (!first || !last) {
      l_.fail_value(k, "expected a port range \"FIRST-LAST\" like \"1024-65535\", got " +
                           in_quotes(text) + " (write a single port as a number)");
    }
    for (const std::uint64_t n : {*first, *last}) {
      if (n > 65535) {
        l_.fail_value(k, "port range " + in_quotes(text) + ": " + std::to_string(n) +
                             " is out of range 0..65535");
      }
    }
    if (*first > *last) {
      l_.fail_value(k, "port range " + in_quotes(text) + " is reversed: " + std::to_string(*first) +
                           " > " + std::to_string(*last));
    }
    return PortRange{static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last)};
  }

  // "ADDRESS/BITS" or a bare address (all bits). Host bits must be zero: "10.0.0.1/8" is far
  // more often a typo for a /32 or for 10.0.0.0/8 than a deliberate way to write the network.
  Cidr cidr(const char* k) const {
    const json& v = v_[k];
    if (!v.is_string()) l_.fail_value(key(k), "expected a CIDR like \"10.0.0.0/8\" or \"::1/128\", got " + got(v));
    const auto& text = v.get_ref<const std::string&>();
    const auto slash = text.find('/');
    const std::string address = text.substr(0, slash);
    Cidr c;
    if (inet_pton(AF_INET, address.c_str(), c.bytes.data()) == 1) {
      c.family = AF_INET;
    } else if (inet_pton(AF_INET6, address.c_str(), c.bytes.data()) == 1) {
      c.family = AF_INET6;
    } else {
      l_.fail_value(key(k), in_quotes(address) + " is not an IPv4 or IPv6 address (in " +
                                in_quotes(text) + ")");
    }
    const int max = c.family == AF_INET ? 32 : 128;
    c.prefix = max;
    if (slash != std::string::npos) {
      const auto bits = parse_decimal(std::string_view(text).substr(slash + 1));
      if (!bits || *bits > static_cast<std::uint64_t>(max)) {
        l_.fail_value(key(k), "bad prefix length in " + in_quotes(text) + ": expected 0.." +
                                  std::to_string(max) + " after the '/'");
      }
      c.prefix = static_cast<int>(*bits);
    }
    if (const Cidr net = network_of(c); net.bytes != c.bytes) {
      l_.fail_value(key(k), in_quotes(text) + " has host bits set after the /" +
                                std::to_string(c.prefix) + " (did you mean " + cidr_text(net) + "?)");
    }
    return c;
  }

  // Shell glob; refused when it could not mean what it looks like.
  std::string glob(const char* k) const {
    const json& v = v_[k];
    if (!v.is_string()) l_.fail_value(key(k), "expected a glob pattern (a string), got " + got(v));
    const auto& g = v.get_ref<const std::string&>();
    if (g.empty()) l_.fail_value(key(k), "must not be empty (\"*\" matches everything)");
    if (g.size() > kMaxGlob)   // rules keep their globs inline (filters/fixed_string.h)
      l_.fail_value(key(k), "too long: " + std::to_string(g.size()) + " bytes (at most " + std::to_string(kMaxGlob) + ")");
    for (std::size_t i = 0; i < g.size(); ++i) {
      if (g[i] == '\\') {
        if (++i == g.size()) l_.fail_value(key(k), in_quotes(g) + " ends with a lone backslash");
      } else if (g[i] == '[') {
        std::size_t j = i + 1;
        if (j < g.size() && (g[j] == '!' || g[j] == '^')) ++j;
        if (j < g.size() && g[j] == ']') ++j;   // a leading ']' is a member
        while (j < g.size() && g[j] != ']') j += g[j] == '\\' ? 2 : 1;
        if (j >= g.size()) {
          l_.fail_value(key(k), in_quotes(g) + ": '[' at offset " + std::to_string(i) +
                                    " opens a class that never closes (a literal '[' is \\\\[ in JSON)");
        }
        i = j;
      }
    }
    return g;
  }

  // An option name carries its level; a number needs the level written, since numbers repeat.
  void option(Match& m) const {
    const std::string k = key("option");
    const json& v = v_["option"];
    if (v.is_string()) {
      const auto& name = v.get_ref<const std::string&>();
      const auto found = find_sockopt(name);
      if (!found) {
        const char* guess = suggest_sockopt(name);
        l_.fail_value(k, "unknown socket option " + in_quotes(name) +
                             (guess ? did_you_mean(guess)
                                    : " (write its number with a \"level\" instead)"));
      }
      if (m.level && *m.level != found->level) {
        l_.fail_value(k, name + " belongs to level " + name_of(sockopt_levels(), found->level) +
                             ", but level is " + describe_level(*m.level));
      }
      m.level = found->level;
      m.option = found->option;
      return;
    }
    if (!v.is_number_integer()) l_.fail_value(k, "expected an option name or an integer, got " + got(v));
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxOption)) {
      l_.fail_value(k, v.dump() + " is out of range 0.." + std::to_string(kMaxOption));
    }
    if (!m.level) {
      l_.fail_value(k, "a numeric option needs a \"level\": option numbers repeat across levels "
                       "(1 is SO_DEBUG, TCP_NODELAY and IP_TOS)");
    }
    m.option = static_cast<int>(v.get<std::uint64_t>());
  }

  static std::string describe_level(int level) {
    const char* name = name_of(sockopt_levels(), level);
    return name ? std::string(name) : std::to_string(level);
  }

  const Loader& l_;
  const json& v_;
  const std::string& path_;
  std::uint32_t on_;
};

}  // namespace

std::string cidr_text(const Cidr& c) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(c.family, c.bytes.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(c.prefix);
}

Match Loader::read_match(const json& v, const std::string& path, std::uint32_t on) const {
  return MatchReader(*this, v, path, on).read();
}

}  // namespace filters::load_detail
