#include "shim/stats/report.h"

#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iterator>
#include <vector>

#include "filters/call_type.h"
#include "filters/errno_names.h"
#include "shim/cookie.h"
#include "shim/stats/segment.h"

namespace shim::stats {
namespace {

using nlohmann::json;

// Length of the UTF-8 sequence that lead byte c starts, and the smallest code point that needs
// that length (anything smaller is an overlong form); 0 when c cannot start a sequence.
std::size_t utf8_length(unsigned char c, std::uint32_t& min) {
  if (c < 0x80) return min = 0, 1;
  if (c >= 0xc2 && c <= 0xdf) return min = 0x80, 2;
  if (c >= 0xe0 && c <= 0xef) return min = 0x800, 3;
  if (c >= 0xf0 && c <= 0xf4) return min = 0x10000, 4;
  return 0;
}

// Strings in the segment were cut to a fixed size by their writer (possibly inside a UTF-8
// sequence), and a segment can be damaged: never read past the field, and replace bytes that are
// not UTF-8 with U+FFFD, because nlohmann::json::dump() throws on invalid UTF-8.
std::string field_string(const char* p, std::size_t cap) {
  const std::size_t n = strnlen(p, cap);
  const auto* s = reinterpret_cast<const unsigned char*>(p);
  std::string out;
  out.reserve(n);
  for (std::size_t i = 0; i < n;) {
    std::uint32_t min = 0;
    const std::size_t len = utf8_length(s[i], min);
    bool ok = len != 0 && len <= n - i;
    std::uint32_t cp = ok ? s[i] & (0xffu >> (len == 1 ? 0 : len + 1)) : 0;
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xc0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3fu);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8 either.
    ok = ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    if (ok) {
      out.append(p + i, len);
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

template <std::size_t N>
std::string field_string(const char (&a)[N]) {
  return field_string(a, N);
}

// For the text report, which lands on a terminal: the strings come from the segment (a program's
// name, a rule's name, an address), so control bytes and backslashes are shown as escapes, never
// sent raw (an ESC sequence in argv[0] must not drive the reader's terminal).
std::string shown(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    char esc[12];
    if (c < 0x20 || c == 0x7f || c == '\\') {
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
      // C1 controls (U+0080..U+009F; U+009B is CSI to some terminals). field_string made the
      // text valid UTF-8, so 0xc2 starts a two-byte sequence here.
      std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned char>(s[++i]));
      out += esc;
    } else {
      out += s[i];
    }
  }
  return out;
}

template <std::size_t N>
std::string text_field(const char (&a)[N]) {
  return shown(field_string(a, N));
}

// "2023-11-14T22:13:20.123Z": UTC, milliseconds, as ISO 8601 and RFC 3339 write it.
std::string iso_time(std::int64_t ns) {
  std::int64_t sec = ns / 1000000000;
  std::int64_t rem = ns % 1000000000;
  if (rem < 0) rem += 1000000000, --sec;
  const time_t t = static_cast<time_t>(sec);
  tm utc{};
  if (!gmtime_r(&t, &utc)) return "?";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(rem / 1000000));
  return buf;
}

std::string hex_cookie(Cookie c) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, c);
  return buf;
}

json name_or_number(const char* name, int value) {
  return name ? json(name) : json(value);
}

std::string name_or_decimal(const char* name, int value) {
  return name ? std::string(name) : std::to_string(value);
}

// "inet stream tcp", with numbers for what has no name.
std::string kind_text(Cookie c) {
  const int f = cookie_family(c), t = cookie_type(c), p = cookie_protocol(c);
  return name_or_decimal(family_name(f), f) + ' ' + name_or_decimal(type_name(t), t) + ' ' +
         name_or_decimal(protocol_name(f, p), p);
}

void add_kind(json& j, Cookie c) {
  const int f = cookie_family(c), t = cookie_type(c), p = cookie_protocol(c);
  j["family"] = name_or_number(family_name(f), f);
  j["type"] = name_or_number(type_name(t), t);
  j["protocol"] = name_or_number(protocol_name(f, p), p);
}

std::uint64_t relaxed(const std::atomic<std::uint64_t>& a) {
  return a.load(std::memory_order_relaxed);
}

// Used slots, sorted by cookie. Keys only ever go from 0 to their final value.
std::vector<const CookieSlot*> used_cookies(const Segment& s) {
  std::vector<const CookieSlot*> v;
  for (const CookieSlot& slot : s.cookies)
    if (slot.key.load(std::memory_order_acquire) != 0) v.push_back(&slot);
  std::sort(v.begin(), v.end(), [](const CookieSlot* a, const CookieSlot* b) {
    return a->key.load(std::memory_order_relaxed) < b->key.load(std::memory_order_relaxed);
  });
  return v;
}

Cookie cookie_of(const CookieSlot& slot) {
  return slot.key.load(std::memory_order_relaxed) & ~kKeyUsed;
}

std::uint32_t rule_count(const Segment& s) {
  return std::min(s.header.rule_count, kMaxRules);
}

std::uint32_t process_count(const Segment& s) {
  return std::min(s.header.process_next.load(std::memory_order_relaxed), kMaxProcesses);
}

// A record's plain fields are written before its state is stored with release (add_process, and
// the exit path for exit status and leaks), so an acquire load of the state makes them readable.
// kProcFree: a slot that was claimed but not filled in yet.
std::uint32_t state_of(const ProcessRecord& r) {
  return r.state.load(std::memory_order_acquire);
}

const char* state_name(std::uint32_t state) {
  switch (state) {
    case kProcRunning: return "running";
    case kProcExited: return "exited";
    case kProcExeced: return "execed";
    case kProcKilled: return "killed";
    case kProcVanished: return "vanished";
    default: return "unknown";
  }
}

bool has_exit(std::uint32_t state) { return state == kProcExited || state == kProcKilled; }

json socket_json(const CookieSlot& slot) {
  const Cookie c = cookie_of(slot);
  json j = {{"cookie", hex_cookie(c)}};
  add_kind(j, c);
  for (std::uint32_t i = 0; i < kCounterCount; ++i)
    j[counter_name(static_cast<Counter>(i))] = relaxed(slot.counters[i]);
  return j;
}

// "preload" or "seccomp"; nullptr when the record does not say.
const char* intercept_name(std::uint32_t v) {
  switch (v) {
    case kInterceptPreload: return "preload";
    case kInterceptSeccomp: return "seccomp";
    default: return nullptr;
  }
}

json process_json(const ProcessRecord& r, std::uint32_t state) {
  json leaked = json::array();
  const std::uint32_t listed = std::min(r.leak_count, kMaxLeaks);
  for (std::uint32_t i = 0; i < listed; ++i) {
    const LeakRecord& l = r.leaks[i];
    json lj = {{"fd", l.fd}};
    add_kind(lj, l.cookie);
    lj["local"] = field_string(l.local);
    lj["peer"] = field_string(l.peer);
    leaked.push_back(std::move(lj));
  }
  return {
      {"pid", r.pid},
      {"ppid", r.ppid},
      {"argv0", field_string(r.argv0)},
      {"state", state_name(state)},
      {"exit", has_exit(state) ? json(r.exit_status) : json(nullptr)},
      {"start", iso_time(r.start_ns)},
      {"end", r.end_ns != 0 ? json(iso_time(r.end_ns)) : json(nullptr)},
      {"leaked_count", r.leak_count},
      {"leaked", std::move(leaked)},
      {"intercept", intercept_name(r.intercept) ? json(intercept_name(r.intercept)) : json(nullptr)},
  };
}

__attribute__((format(printf, 2, 3))) void append_f(std::string& out, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list again;
  va_copy(again, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  if (n > 0) {
    const std::size_t at = out.size();
    out.resize(at + static_cast<std::size_t>(n) + 1);
    std::vsnprintf(out.data() + at, static_cast<std::size_t>(n) + 1, fmt, again);
    out.resize(at + static_cast<std::size_t>(n));
  }
  va_end(again);
}

void socket_text(std::string& out, const CookieSlot& slot) {
  out += kind_text(cookie_of(slot));
  // socktest's ten counters on the first line, the rest on the second.
  for (std::uint32_t i = 0; i < kCounterCount; ++i) {
    out += (i == 0 || i == kConnectPending) ? "\n\t" : " ";
    append_f(out, "%s=%" PRIu64, counter_name(static_cast<Counter>(i)), relaxed(slot.counters[i]));
  }
  out += '\n';
}

std::string or_dash(std::string s) { return s.empty() ? "-" : s; }

void process_text(std::string& out, const ProcessRecord& r, std::uint32_t state) {
  append_f(out, "\tpid=%d ppid=%d %s %s ", r.pid, r.ppid, or_dash(text_field(r.argv0)).c_str(),
           state_name(state));
  if (has_exit(state)) append_f(out, "exit=%d", r.exit_status);
  else out += "exit=-";
  append_f(out, " leaked=%u", r.leak_count);
  if (const char* how = intercept_name(r.intercept)) append_f(out, " intercept=%s", how);
  out += '\n';
  const std::uint32_t listed = std::min(r.leak_count, kMaxLeaks);
  for (std::uint32_t i = 0; i < listed; ++i) {
    const LeakRecord& l = r.leaks[i];
    append_f(out, "\t\tleak fd=%d %s local=%s peer=%s\n", l.fd, kind_text(l.cookie).c_str(),
             or_dash(text_field(l.local)).c_str(), or_dash(text_field(l.peer)).c_str());
  }
  if (r.leak_count > listed) append_f(out, "\t\t(%u more not recorded)\n", r.leak_count - listed);
}

// The names rule files use for actions, by filters::ActionKind / AfterKind value.
const char* action_name(std::uint8_t a) {
  static const char* const kNames[] = {"none", "fail", "hang", "short", "reset", "eagain",
                                       "eintr", "drop", "duplicate", "corrupt", "inbound_loss", "rate"};
  return a < std::size(kNames) ? kNames[a] : "?";
}
const char* after_name(std::uint8_t a) {
  static const char* const kNames[] = {"none", "fail", "so_error", "truncate", "corrupt"};
  return a < std::size(kNames) ? kNames[a] : "?";
}

// The events still in the ring, oldest first; records being rewritten are skipped.
std::deque<Event> events_of(const Segment& s) {   // deque: Event (atomics) cannot move
  const std::uint64_t next = s.header.event_next.load(std::memory_order_acquire);
  const std::uint64_t first = next > kMaxEvents ? next - kMaxEvents : 0;
  std::deque<Event> out;
  for (std::uint64_t n = first; n < next; ++n) {
    const Event& e = s.events[n % kMaxEvents];
    const std::uint64_t seq = e.seq.load(std::memory_order_acquire);
    if (seq != n + 1) continue;
    Event& copy = out.emplace_back();
    std::memcpy(static_cast<void*>(&copy), static_cast<const void*>(&e), sizeof e);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (e.seq.load(std::memory_order_relaxed) != seq) out.pop_back();
  }
  return out;
}

std::string event_rule(const Segment& s, const Event& e) {
  return e.rule < rule_count(s) ? field_string(s.rules[e.rule].name) : std::to_string(e.rule);
}

std::string event_error(const Event& e) {
  if (e.err == 0) return "";
  if (e.call == static_cast<std::uint16_t>(filters::CallType::kGetaddrinfo)) {
    if (const char* n = filters::eai_name(e.err)) return n;
  }
  if (const char* n = filters::errno_name(e.err)) return n;
  return std::to_string(e.err);
}

json event_json(const Segment& s, const Event& e) {
  return {{"t_ms", static_cast<double>(e.t_ns) / 1e6},
          {"pid", e.pid},
          {"tid", e.tid},
          {"call", filters::call_type_name(static_cast<filters::CallType>(e.call))},
          {"fd", e.fd},
          {"socket", kind_text(e.cookie)},
          {"peer", field_string(e.peer)},
          {"rule", event_rule(s, e)},
          {"hit", e.hit},
          {"do", action_name(e.action)},
          {"then", after_name(e.after)},
          {"error", event_error(e)}};
}

}  // namespace

json to_json(const Segment& s, const std::string& name) {
  const Header& h = s.header;
  json sockets = json::array();
  for (const CookieSlot* slot : used_cookies(s)) sockets.push_back(socket_json(*slot));

  json rules = json::array();
  for (std::uint32_t i = 0; i < rule_count(s); ++i) {
    const RuleSlot& r = s.rules[i];
    rules.push_back({{"name", field_string(r.name)},
                     {"enabled", r.disabled.load(std::memory_order_relaxed) == 0},
                     {"hits", relaxed(r.hits)},
                     {"fired", relaxed(r.fired)},
                     {"armed", relaxed(r.armed)},
                     {"lifted", relaxed(r.lifted)}});
  }

  json processes = json::array();
  for (std::uint32_t i = 0; i < process_count(s); ++i) {
    const std::uint32_t state = state_of(s.processes[i]);
    if (state != kProcFree) processes.push_back(process_json(s.processes[i], state));
  }

  json events = json::array();
  for (const Event& e : events_of(s)) events.push_back(event_json(s, e));
  const std::uint64_t logged = h.event_next.load(std::memory_order_relaxed);

  return {
      {"version", 1},
      {"name", field_string(name.c_str(), name.size())},
      {"layout_version", h.version},
      {"seed", h.seed},
      {"rules_file", field_string(h.rules_file)},
      {"created", iso_time(h.created_ns)},
      {"sockets", std::move(sockets)},
      {"rules", std::move(rules)},
      {"processes", std::move(processes)},
      {"events", std::move(events)},
      {"events_lost", logged > kMaxEvents ? logged - kMaxEvents : 0},
      {"overflow",
       {{"cookies", relaxed(h.cookie_overflow)}, {"processes", relaxed(h.process_overflow)}}},
      {"raced", {{"calls", relaxed(h.raced_calls)}, {"bytes", relaxed(h.raced_bytes)}}},
  };
}

std::string to_text(const Segment& s, const std::string& name, bool with_events) {
  const Header& h = s.header;
  std::string out = "sockshim stats " + shown(name) + " (created " + iso_time(h.created_ns) +
                    ", seed " + std::to_string(h.seed);
  if (const std::string rules_file = text_field(h.rules_file); !rules_file.empty())
    out += ", rules " + rules_file;
  out += ")\n";

  const auto cookies = used_cookies(s);
  if (cookies.empty()) out += "no sockets\n";
  for (const CookieSlot* slot : cookies) socket_text(out, *slot);

  if (rule_count(s) == 0) out += "no rules\n";
  else out += "rules:\n";
  for (std::uint32_t i = 0; i < rule_count(s); ++i) {
    const RuleSlot& r = s.rules[i];
    // Only rules that arm sockets (inbound_loss, rate) ever count armed or lifted ones.
    std::string armed;
    if (relaxed(r.armed) || relaxed(r.lifted))
      append_f(armed, " armed=%" PRIu64 " lifted=%" PRIu64, relaxed(r.armed), relaxed(r.lifted));
    append_f(out, "\t%s hits=%" PRIu64 " fired=%" PRIu64 "%s%s\n", text_field(r.name).c_str(),
             relaxed(r.hits), relaxed(r.fired), armed.c_str(),
             r.disabled.load(std::memory_order_relaxed) ? " (disabled)" : "");
  }
  if (with_events) {
    const auto events = events_of(s);
    const std::uint64_t logged = h.event_next.load(std::memory_order_relaxed);
    out += events.empty() ? "no events\n" : "events:\n";
    if (logged > kMaxEvents)
      append_f(out, "\t(%" PRIu64 " older events overwritten)\n", logged - kMaxEvents);
    for (const Event& e : events) {
      const std::string err = event_error(e);
      append_f(out, "\t%10.3f ms pid=%d tid=%d %s fd=%d %s peer=%s rule=%s hit=%" PRIu64 " do=%s then=%s%s%s\n",
               static_cast<double>(e.t_ns) / 1e6, e.pid, e.tid,
               filters::call_type_name(static_cast<filters::CallType>(e.call)), e.fd,
               kind_text(e.cookie).c_str(), or_dash(text_field(e.peer)).c_str(),
               shown(event_rule(s, e)).c_str(), e.hit, action_name(e.action), after_name(e.after),
               err.empty() ? "" : " error=", err.c_str());
    }
  }

  std::string procs;
  for (std::uint32_t i = 0; i < process_count(s); ++i) {
    const std::uint32_t state = state_of(s.processes[i]);
    if (state != kProcFree) process_text(procs, s.processes[i], state);
  }
  out += procs.empty() ? "no processes\n" : "processes:\n" + procs;

  if (const std::uint64_t raced = relaxed(h.raced_calls); raced != 0)
    append_f(out, "raced: calls=%" PRIu64 " bytes=%" PRIu64 " (transfers that raced a dup2 onto their fd)\n",
             raced, relaxed(h.raced_bytes));
  const std::uint64_t lost_cookies = relaxed(h.cookie_overflow);
  const std::uint64_t lost_procs = relaxed(h.process_overflow);
  if (lost_cookies != 0 || lost_procs != 0)
    append_f(out, "overflow: cookies=%" PRIu64 " processes=%" PRIu64 "\n", lost_cookies,
             lost_procs);
  return out;
}

}  // namespace shim::stats
