// Loading `do` (before the call) and `then` (after it). Each action names the call types it can
// apply to; a rule on any other call type is refused, so no fault is silently a no-op.
#include <netdb.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "bpfvm/loss_filter.h"
#include "bpfvm/validator.h"
#include "filters/loader.h"
#include "filters/socket_names.h"

namespace filters::load_detail {
namespace {

constexpr const char* kDoKeys[] = {"fail",  "delay_ms", "jitter_ms", "hang_ms",   "short",  "reset",
                                   "eagain", "eintr",   "drop",      "duplicate", "corrupt",
                                   "inbound_loss", "filter", "rate"};
constexpr const char* kThenKeys[] = {"fail", "so_error", "truncate", "corrupt"};

constexpr std::uint32_t kGai = bit(CallType::kGetaddrinfo);
constexpr std::uint32_t kSend = bit(CallType::kSend);
constexpr std::uint32_t kRecv = bit(CallType::kRecv);
// Calls that can block, so EAGAIN (non-blocking) and EINTR (a signal) are real outcomes.
constexpr std::uint32_t kBlocking = bit(CallType::kConnect) | bit(CallType::kAccept) | kSend | kRecv;
// Calls that make or name the socket a socket filter goes on (for accept: the accepted one).
constexpr std::uint32_t kSocketSetup =
    bit(CallType::kSocket) | bit(CallType::kBind) | bit(CallType::kConnect) | bit(CallType::kAccept);

// An hour: longer is a mistake (ms read as s), and it keeps ms values within 32 bits.
constexpr std::uint64_t kMaxMs = 3'600'000;
constexpr std::uint64_t kMaxBits = 65536;

// The keys of `object` in the order they were written (views of the DOM's keys).
std::vector<std::string_view> keys_in_order(const Loader& l, const json& object, const std::string& path) {
  std::vector<std::string_view> keys;
  keys.reserve(object.size());
  for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end(), [&](std::string_view a, std::string_view b) {
    const Position pa = l.key_at(member_path(path, a)), pb = l.key_at(member_path(path, b));
    return pa.line != pb.line ? pa.line < pb.line : pa.col < pb.col;
  });
  return keys;
}

std::string position_text(Position p) { return std::to_string(p.line) + ":" + std::to_string(p.col); }

bool is_datagram(const Match& m) {
  return (m.type && *m.type == SOCK_DGRAM) ||
         (m.protocol && (*m.protocol == IPPROTO_UDP || *m.protocol == IPPROTO_UDPLITE));
}

// A family, type or protocol as the rule file names it.
std::string named(std::span<const NamedValue> names, int value) {
  const char* name = name_of(names, value);
  return name ? std::string(name) : std::to_string(value);
}

// Why a rule with this match cannot use `reset`, or "" when it can. A reset is SO_LINGER 0 and
// a close, which only TCP turns into an RST: on a unix or UDP socket the call would fail with
// ECONNRESET while the connection stayed up. So the match must limit the rule to TCP sockets,
// which only "protocol": "tcp" does (SO_PROTOCOL is 6 on TCP sockets alone; a stream socket may
// be unix, SCTP or MPTCP), and the other keys must not contradict it.
std::string why_not_tcp(const Match& m) {
  if (m.family && *m.family != AF_INET && *m.family != AF_INET6) {
    return "its match has family " + named(kFamilyNames, *m.family) + ", which has no TCP";
  }
  if (m.type && *m.type != SOCK_STREAM) {
    return "its match has type " + named(kTypeNames, *m.type) + ", which is not TCP's";
  }
  if (m.protocol && *m.protocol != IPPROTO_TCP) {
    return "its match has protocol " + named(kProtocolNames, *m.protocol);
  }
  if (!m.protocol) return "without it the rule would also act on unix and UDP sockets";
  return {};
}

// Why a rule with this match cannot use `inbound_loss`, or "" when it can. The filter sees IP
// packets, so the match must keep the rule off unix (and netlink, packet, ...) sockets: a family
// of inet/inet6, or a key only IP sockets have (a port, an address, TCP or UDP as protocol).
// Short: the preload object prints the whole line from a fixed buffer.
std::string why_not_ip(const Match& m) {
  if (m.family && *m.family != AF_INET && *m.family != AF_INET6) {
    return "its match has family " + named(kFamilyNames, *m.family);
  }
  if (m.path) return "its match has a unix socket path";
  if (m.family) return {};
  const bool ip_protocol = m.protocol && (*m.protocol == IPPROTO_TCP || *m.protocol == IPPROTO_UDP ||
                                          *m.protocol == IPPROTO_UDPLITE);
  if (ip_protocol || m.port || m.local_port || m.peer_port || m.peer || m.local) return {};
  return "add \"family\": \"inet\" (or \"inet6\", a tcp/udp protocol, a port or an address) to its match";
}

ExpressionCompiler g_compiler = nullptr;

}  // namespace

// The drop probability of an inbound_loss rule, and the socket filter that enforces it, built and
// validated here (as the kernel will check it) so the shim only emits a shape known to be good.
void Loader::read_inbound_loss(const json& v, const std::string& path, const Match& m, Action& a) const {
  const std::string k = path + ".inbound_loss";
  const json& value = v["inbound_loss"];
  // These messages name the rule: a loss rule is often one of several alike in a chaos profile.
  const auto refuse = [&](const std::string& key, const std::string& why) {
    fail_value(key, "rule " + in_quotes(rule_name_) + ": " + why);
  };
  if (!value.is_number()) {
    refuse(k, "expected a number greater than 0 and at most 1 (the fraction of arriving packets to drop), got " +
                  got(value));
  }
  a.loss = value.get<double>();
  if (!(a.loss > 0.0 && a.loss <= 1.0)) {
    refuse(k, "must be greater than 0 and at most 1 (a fraction, not a percentage), got " + value.dump());
  }
  if (const std::string why = why_not_ip(m); !why.empty()) refuse(k, "inbound_loss acts on IP sockets only: " + why);
  a.loss_threshold = bpfvm::loss_threshold(a.loss);
  if (v.contains("filter")) {
    const std::string fk = path + ".filter";
    const json& f = v["filter"];
    if (!f.is_string()) refuse(fk, "expected a tcpdump expression (a string), got " + got(f));
    const std::string& text = f.get_ref<const std::string&>();
    if (text.empty()) refuse(fk, "is empty: write a tcpdump expression (\"udp port 53\")");
    if (text.size() > a.filter_text.kCapacity) {
      refuse(fk, "too long: " + std::to_string(text.size()) + " bytes (at most " +
                     std::to_string(a.filter_text.kCapacity) + ")");
    }
    if (g_compiler == nullptr) {
      refuse(fk, "tcpdump expressions are compiled by sockshim run and check (libpcap stays out of the "
                 "program): start the program with sockshim run");
    }
    std::vector<bpfvm::Instruction> match;
    std::string error;
    if (!g_compiler(text, match, error)) refuse(fk, "not usable as a socket filter: " + error);
    if (match.size() > a.filter.size()) {
      refuse(fk, "compiles to " + std::to_string(match.size()) + " instructions; at most " +
                     std::to_string(a.filter.size()) + " fit in a rule");
    }
    std::copy(match.begin(), match.end(), a.filter.begin());
    a.filter_len = static_cast<std::uint16_t>(match.size());
    a.filter_text = text;
  }
  // The program the shim will attach, checked with the kernel's rules.
  std::array<bpfvm::Instruction, bpfvm::kMaxComposedLossFilter> prog{};
  const std::size_t n = loss_program(a, prog);
  if (auto valid = bpfvm::validate(bpfvm::Program(prog.begin(), prog.begin() + static_cast<std::ptrdiff_t>(n)));
      !valid) {
    refuse(k, "the kernel would refuse its socket filter: instruction " + std::to_string(valid.error().insn_index) +
                  ": " + std::string(bpfvm::reason(valid.error().code)));
  }
}

// A rate: bytes a second, from "1MiB/s" and the like (parse_rate), on TCP sockets only: the
// shim paces what they send with the kernel's TCP pacing and what they receive by holding recv.
void Loader::read_rate(const json& value, const std::string& k, const Match& m, Action& a) const {
  const auto refuse = [&](const std::string& why) { fail_value(k, "rule " + in_quotes(rule_name_) + ": " + why); };
  if (!value.is_string()) refuse("expected a rate such as \"1MiB/s\" (a string), got " + got(value));
  const std::string& text = value.get_ref<const std::string&>();
  std::string why;
  const std::optional<std::uint64_t> rate = parse_rate(text, &why);
  if (!rate) refuse(why);
  if (const std::string tcp = why_not_tcp(m); !tcp.empty())
    refuse("rate paces TCP sockets (the kernel's TCP pacing), so the match needs \"protocol\": \"tcp\"; " + tcp);
  a.rate = static_cast<std::uint32_t>(*rate);
  a.rate_text = text;
}

Action Loader::read_do(const json& v, const std::string& path, std::uint32_t on, const Match& m) const {
  require_object(v, path);
  check_keys(v, path, kDoKeys, {});
  if (v.empty()) fail_value(path, "is empty: name an action (known: " + join_names(kDoKeys) + ")");
  Action a;
  std::string primary;   // the key that chose a.kind, for "two actions" messages
  const auto choose = [&](const std::string& key, ActionKind kind) {
    if (!primary.empty()) {
      fail_value(path + "." + key, "one action per rule: \"" + primary + "\" (at " +
                                       position_text(key_at(path + "." + primary)) +
                                       ") is already this rule's action; only delay_ms/jitter_ms "
                                       "go with another");
    }
    primary = key;
    a.kind = kind;
  };
  // In document order, so "two actions" points at the second one written.
  for (const std::string_view name : keys_in_order(*this, v, path)) {
    const std::string key(name);   // short: no allocation
    const json& value = v[key];
    const std::string k = path + "." + key;
    if (key == "fail") {
      if (v.contains("hang_ms")) continue;   // the hang's errno, read with hang_ms
      choose(key, ActionKind::kFail);
      int eai = 0;
      a.err = read_errno(value, k, on == kGai ? &eai : nullptr);
      // The shim reads eai only on getaddrinfo, which reports an errno through EAI_SYSTEM.
      a.eai = eai != 0 ? eai : ((on & kGai) ? EAI_SYSTEM : 0);
    } else if (key == "delay_ms") {
      a.delay_ms = static_cast<std::uint32_t>(read_unsigned(value, k, 1, kMaxMs));
    } else if (key == "jitter_ms") {
      a.jitter_ms = static_cast<std::uint32_t>(read_unsigned(value, k, 1, kMaxMs));
    } else if (key == "hang_ms") {
      check_applies(k, "hang_ms", on, kAllCalls & ~kGai);
      choose(key, ActionKind::kHang);
      a.hang_ms = static_cast<std::uint32_t>(read_unsigned(value, k, 1, kMaxMs));
      a.err = v.contains("fail") ? read_errno(v["fail"], path + ".fail", nullptr) : ETIMEDOUT;
    } else if (key == "short") {
      check_applies(k, "short", on, kSend | kRecv);
      choose(key, ActionKind::kShort);
      a.count = read_unsigned(value, k, 1);
    } else if (key == "reset") {
      check_applies(k, "reset", on, kSend | kRecv);
      choose(key, ActionKind::kReset);
      read_true(value, k);
      if (const std::string why = why_not_tcp(m); !why.empty()) {
        fail_value(k, "reset is a TCP abort (the peer sees an RST), so the rule must match TCP "
                      "sockets only, with \"protocol\": \"tcp\"; " + why);
      }
    } else if (key == "eagain" || key == "eintr") {
      check_applies(k, key, on, key == "eintr" ? kBlocking | bit(CallType::kClose) : kBlocking);
      choose(key, key == "eagain" ? ActionKind::kEagain : ActionKind::kEintr);
      read_true(value, k);
    } else if (key == "drop" || key == "duplicate") {
      check_applies(k, key, on, kSend);
      choose(key, key == "drop" ? ActionKind::kDrop : ActionKind::kDuplicate);
      read_true(value, k);
      if (!is_datagram(m)) {
        fail_value(k, key + " applies to datagrams only: add \"type\": \"dgram\" (or \"protocol\": "
                            "\"udp\") to the rule's match");
      }
    } else if (key == "corrupt") {
      check_applies(k, "corrupt (in \"do\": the bytes sent)", on, kSend);
      choose(key, ActionKind::kCorrupt);
      a.count = read_unsigned(value, k, 1, kMaxBits);
    } else if (key == "inbound_loss") {
      check_applies(k, "inbound_loss (a filter on the socket's arriving packets)", on, kSocketSetup);
      choose(key, ActionKind::kInboundLoss);
      read_inbound_loss(v, path, m, a);
    } else if (key == "rate") {
      check_applies(k, "rate (a bandwidth cap on the socket)", on, kSocketSetup);
      choose(key, ActionKind::kRate);
      read_rate(value, k, m, a);
    } else if (key == "filter" && !v.contains("inbound_loss")) {
      fail_value(k, "filter limits an inbound_loss rule's loss to the packets it matches: add \"inbound_loss\"");
    }
  }
  return a;
}

After Loader::read_then(const json& v, const std::string& path, std::uint32_t on) const {
  require_object(v, path);
  check_keys(v, path, kThenKeys, {});
  if (v.empty()) fail_value(path, "is empty: name an action (known: " + join_names(kThenKeys) + ")");
  const auto names = keys_in_order(*this, v, path);
  const std::vector<std::string> keys(names.begin(), names.end());
  if (keys.size() > 1) {
    fail_value(path + "." + keys[1], "one action per \"then\": \"" + keys[0] + "\" (at " +
                                          position_text(key_at(path + "." + keys[0])) +
                                          ") is already this rule's after-action");
  }
  const std::string& key = keys[0];
  const std::string k = path + "." + key;
  const json& value = v[key];
  After a;
  if (key == "fail") {
    check_applies(k, "then.fail", on, kAllCalls & ~kGai);
    a.kind = AfterKind::kFail;
    a.err = read_errno(value, k, nullptr);
  } else if (key == "so_error") {
    check_applies(k, "so_error (the result of a connect)", on, bit(CallType::kConnect));
    a.kind = AfterKind::kSoError;
    a.err = read_errno(value, k, nullptr);
  } else if (key == "truncate") {
    check_applies(k, "truncate (of received bytes)", on, kRecv);
    a.kind = AfterKind::kTruncate;
    a.count = read_unsigned(value, k, 1);
  } else {
    check_applies(k, "corrupt (in \"then\": the bytes received)", on, kRecv);
    a.kind = AfterKind::kCorrupt;
    a.count = read_unsigned(value, k, 1, kMaxBits);
  }
  return a;
}

}  // namespace filters::load_detail

namespace filters {

void set_expression_compiler(ExpressionCompiler compiler) noexcept { load_detail::g_compiler = compiler; }

std::optional<std::uint64_t> parse_rate(std::string_view text, std::string* why) {
  const auto fail = [&](const std::string& reason) -> std::optional<std::uint64_t> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const std::string units = "B/s, KiB/s, MiB/s, kbit/s or mbit/s";
  if (text.size() > kMaxRateText) return fail("too long: at most " + std::to_string(kMaxRateText) + " bytes");
  // Digits, an optional fraction, an optional space, a unit: no exponents, signs or locales.
  std::size_t i = 0;
  double value = 0, scale = 1;
  bool digits = false, point = false;
  for (; i < text.size() && ((text[i] >= '0' && text[i] <= '9') || (text[i] == '.' && !point)); ++i) {
    if (text[i] == '.') {
      point = true;
      continue;
    }
    digits = true;
    if (point) scale /= 10;
    value = point ? value + (text[i] - '0') * scale : value * 10 + (text[i] - '0');
    if (value > 1e18) return fail("too large (at most " + std::to_string(kMaxRate) + " B/s)");
  }
  if (!digits) return fail("expected a number and a unit (" + units + "), such as \"1MiB/s\", got \"" + std::string(text) + "\"");
  if (i < text.size() && text[i] == ' ') ++i;
  const std::string_view unit = text.substr(i);
  double factor = 0;
  if (unit == "B/s") factor = 1;
  else if (unit == "KiB/s") factor = 1024;
  else if (unit == "MiB/s") factor = 1024 * 1024;
  else if (unit == "kbit/s") factor = 1000.0 / 8;
  else if (unit == "mbit/s") factor = 1000.0 * 1000 / 8;
  else return fail("unknown unit \"" + std::string(unit) + "\" (known: " + units + ")");
  const double bytes = value * factor + 0.5;
  if (bytes < 1) return fail("must be at least 1 B/s, got \"" + std::string(text) + "\"");
  if (bytes > static_cast<double>(kMaxRate) + 0.5) return fail("too large (at most " + std::to_string(kMaxRate) + " B/s)");
  return static_cast<std::uint64_t>(bytes);
}

}  // namespace filters
