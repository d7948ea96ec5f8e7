// What `sockshim check` prints: the table as the loader understood it, in the rule file's own
// vocabulary, so a reader can compare it with what they meant to write. Every setting is
// KEY=VALUE with the file's key and a value the file accepts back (names where the file has
// them, globs JSON-quoted), section by section: match, when, do, then.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "filters/errno_names.h"
#include "filters/loader.h"
#include "filters/socket_names.h"
#include "filters/sockopt_names.h"
#include "filters/table.h"

namespace filters {
namespace {

// The rule-file name when there is one, else the number (which the file may also have used).
std::string name_or_number(std::span<const NamedValue> names, int value) {
  const char* name = name_of(names, value);
  return name != nullptr ? std::string(name) : std::to_string(value);
}

std::string errno_text(int err) {
  const char* name = errno_name(err);
  return name != nullptr ? std::string(name) : std::to_string(err);
}

std::string ports(const PortRange& p) {
  std::string out = std::to_string(p.first);
  if (p.last != p.first) out += '-' + std::to_string(p.last);
  return out;
}

// Collects " key=value" pairs behind a section word ("  match", "  when", ...), or nothing.
class Section {
 public:
  explicit Section(const char* word) : word_(word) {}
  void add(const char* key, const std::string& value) { body_ += std::string(" ") + key + '=' + value; }
  void add(const char* key, std::uint64_t value) { add(key, std::to_string(value)); }
  std::string text() const { return body_.empty() ? body_ : std::string("  ") + word_ + body_; }

 private:
  const char* word_;
  std::string body_;
};

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
  Section s("match");
  if (m.family) s.add("family", name_or_number(kFamilyNames, *m.family));
  if (m.type) s.add("type", name_or_number(kTypeNames, *m.type));
  if (m.protocol) s.add("protocol", name_or_number(kProtocolNames, *m.protocol));
  if (m.peer) s.add("peer", load_detail::cidr_text(*m.peer));
  if (m.local) s.add("local", load_detail::cidr_text(*m.local));
  if (m.port) s.add("port", ports(*m.port));
  if (m.local_port) s.add("local_port", ports(*m.local_port));
  if (m.peer_port) s.add("peer_port", ports(*m.peer_port));
  if (m.path) s.add("path", load_detail::in_quotes(*m.path));
  if (m.argv0) s.add("argv0", load_detail::in_quotes(*m.argv0));
  if (m.role) s.add("role", *m.role == Role::kClient ? "client" : "server");
  if (m.level) s.add("level", name_or_number(sockopt_levels(), *m.level));
  if (m.option) {
    const char* name = m.level ? name_of(sockopt_options(*m.level), *m.option) : nullptr;
    s.add("option", name != nullptr ? std::string(name) : std::to_string(*m.option));
  }
  if (m.host) s.add("host", load_detail::in_quotes(*m.host));
  return s.text();
}

// The shortest text that reads back as the same double ("0.3", not "0.29999999999999999").
std::string shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  for (int digits = 1; digits <= 17; ++digits) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", digits, v);
    if (std::strtod(shorter, nullptr) == v) {
      std::snprintf(buf, sizeof buf, "%s", shorter);
      break;
    }
  }
  return buf;
}

std::string describe_when(const When& w) {
  Section s("when");
  if (w.probability < 1.0) s.add("probability", shortest(w.probability));
  if (w.nth > 0) s.add("nth", w.nth);
  if (w.after > 0) s.add("after", w.after);
  if (w.times > 0) s.add("times", w.times);
  if (w.from_ms) s.add("from_ms", *w.from_ms);
  if (w.until_ms) s.add("until_ms", *w.until_ms);
  if (w.after_bytes) s.add("after_bytes", *w.after_bytes);
  if (w.after_connected_ms) s.add("after_connected_ms", *w.after_connected_ms);
  if (w.count == Count::kSocket) s.add("count", "socket");
  return s.text();
}

std::string describe_action(const Action& a) {
  Section s("do");
  switch (a.kind) {
    case ActionKind::kNone: break;
    case ActionKind::kFail:
      // An errno is what the rule file named even on getaddrinfo (where it travels as EAI_SYSTEM).
      if (a.err != 0) {
        s.add("fail", errno_text(a.err));
      } else {
        const char* name = eai_name(a.eai);
        s.add("fail", name != nullptr ? std::string(name) : std::to_string(a.eai));
      }
      break;
    case ActionKind::kHang:
      s.add("hang_ms", a.hang_ms);
      s.add("fail", errno_text(a.err));
      break;
    case ActionKind::kShort: s.add("short", a.count); break;
    case ActionKind::kReset: s.add("reset", "true"); break;
    case ActionKind::kEagain: s.add("eagain", "true"); break;
    case ActionKind::kEintr: s.add("eintr", "true"); break;
    case ActionKind::kDrop: s.add("drop", "true"); break;
    case ActionKind::kDuplicate: s.add("duplicate", "true"); break;
    case ActionKind::kCorrupt: s.add("corrupt", a.count); break;
    case ActionKind::kInboundLoss:
      s.add("inbound_loss", shortest(a.loss));
      if (a.filter_len) s.add("filter", load_detail::in_quotes(a.filter_text));
      break;
    case ActionKind::kRate: s.add("rate", a.rate_text.str() + " (" + std::to_string(a.rate) + " B/s)"); break;
  }
  if (a.delay_ms) s.add("delay_ms", a.delay_ms);
  if (a.jitter_ms) s.add("jitter_ms", a.jitter_ms);
  return s.text();
}

std::string describe_then(const After& a) {
  Section s("then");
  switch (a.kind) {
    case AfterKind::kNone: break;
    case AfterKind::kFail: s.add("fail", errno_text(a.err)); break;
    case AfterKind::kSoError: s.add("so_error", errno_text(a.err)); break;
    case AfterKind::kTruncate: s.add("truncate", a.count); break;
    case AfterKind::kCorrupt: s.add("corrupt", a.count); break;
  }
  return s.text();
}

}  // namespace

std::string describe(const Table& t) {
  const std::size_t n = t.rules().size();
  std::string out = "seed " + std::to_string(t.seed()) + ", " + std::to_string(n) +
                    (n == 1 ? " rule\n" : " rules\n");
  for (const Rule& r : t.rules()) {
    out += r.name.str() + "  on " + describe_on(r) + describe_match(r.match) + describe_when(r.when) +
           describe_action(r.action) + describe_then(r.then) +
           (r.enabled ? "" : "  enabled=false") + '\n';
  }
  return out;
}

}  // namespace filters
