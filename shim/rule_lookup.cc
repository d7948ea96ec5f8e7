#include "shim/rule_lookup.h"

#include <netdb.h>
#include <sys/un.h>

#include "shim/os.h"
#include "shim/sockaddr_text.h"
#include "shim/socket_book.h"
#include "shim/stats/layout.h"

namespace shim {

namespace {

// The unix path of an address, '@' for abstract names; false when it has none.
bool to_path(const sockaddr* sa, socklen_t n, char* out, std::size_t len) noexcept {
  if (!sa || sa->sa_family != AF_UNIX) return false;
  format_sockaddr(sa, n, out, len);
  return out[0] != 0;
}

bool names_address(Op op) noexcept { return op == Op::kConnect || op == Op::kSend || op == Op::kBind; }

}  // namespace

RuleLookup::Ports RuleLookup::ports_of(const Call& c, const FdEntry& e, std::uint32_t bits) noexcept {
  const sockaddr* addr = names_address(c.op) ? c.addr : nullptr;
  return ports(FdState{bits}.conn(), e, addr, c.addrlen, c.op != Op::kBind);
}

// connect, bind and addressed sends carry the address that decides the service port; every other
// call is decided by the socket alone, so its answer is cached in the entry until its facts change.
int RuleLookup::rule_for(const Call& c, filters::CallType t, FdEntry& e, std::uint32_t bits) noexcept {
  if (!has_rules(t)) return -1;
  // Most sockets concern no rule at all: their family and service port say so at once, before
  // any of the facts that cost more (addresses are system calls) are gathered.
  const Ports p = ports_of(c, e, bits);
  if (!table_->may_match(t, cookie_family(e.cookie.load(std::memory_order_relaxed)), p.service)) {
    if (c.addr == nullptr) e.cache_rule(t, 1);
    return -1;
  }
  // The facts, gathered at most once and only when the cache cannot answer.
  char path[kPathBuf];
  filters::SocketFacts f;
  bool gathered = false;
  const auto facts = [&]() -> const filters::SocketFacts& {
    if (!gathered) {
      f = facts_of(c, t, e, bits, p, path);
      gathered = true;
    }
    return f;
  };
  const bool per_call = c.op == Op::kConnect || c.op == Op::kBind || (c.op == Op::kSend && c.addr) ||
                        c.op == Op::kGetsockopt || c.op == Op::kSetsockopt;
  if (per_call) return first_enabled(t, facts(), -1);
  std::uint16_t v = e.cached_rule(t);
  if (v == 0) {
    const int found = table_->first_match(t, facts());
    v = static_cast<std::uint16_t>(found < 0 ? 1 : found + 2);
    e.cache_rule(t, v);
  }
  int idx = static_cast<int>(v) - 2;
  // A rule switched off through the segment is skipped as if absent (rare: no caching).
  if (idx >= 0 && seg_->rules[idx].disabled.load(std::memory_order_relaxed)) idx = first_enabled(t, facts(), idx);
  return idx;
}

template <filters::CallType t>
bool RuleLookup::rule_free_by_port(FdEntry& e, std::uint32_t bits, const sockaddr* addr, socklen_t addrlen) noexcept {
  // The service port as ports_of() has it for a call that names no address (or, with addr, for a
  // connect or a send to it), without building a Call.
  const int service = service_port(FdState{bits}.conn(), e, addr, addrlen);
  // The answer computed ahead for the socket's family and a port no rule names (RuleStarts) needs
  // no call, so this function needs no frame; the table's lists only when some rule names the
  // port, or one without a port key may concern the family (rule_free_by_family).
  const RuleStarts& s = *starts_;
  if (!s.none(s.row(cookie_family(e.cookie.load(std::memory_order_relaxed)), service), t))
    return rule_free_by_family(e, t, service, addr != nullptr);
  if (!addr) e.cache_rule(t, 1);
  return true;
}

template bool RuleLookup::rule_free_by_port<filters::CallType::kClose>(FdEntry&, std::uint32_t, const sockaddr*,
                                                                       socklen_t) noexcept;
template bool RuleLookup::rule_free_by_port<filters::CallType::kConnect>(FdEntry&, std::uint32_t, const sockaddr*,
                                                                         socklen_t) noexcept;
template bool RuleLookup::rule_free_by_port<filters::CallType::kAccept>(FdEntry&, std::uint32_t, const sockaddr*,
                                                                        socklen_t) noexcept;

bool RuleLookup::rule_free_by_family(FdEntry& e, filters::CallType t, int service, bool per_call) noexcept {
  if (table_->may_match(t, cookie_family(e.cookie.load(std::memory_order_relaxed)), service)) return false;
  if (!per_call) e.cache_rule(t, 1);
  return true;
}

int RuleLookup::socket_rule(const Call& c) const noexcept {
  if (!has_rules(filters::CallType::kSocket)) return -1;
  const int type = c.b & kSockTypeMask;
  filters::SocketFacts f;
  f.family = c.a;
  f.type = type;
  f.protocol = SocketBook::kernel_protocol(-1, c.a, type, c.c);
  return first_enabled(filters::CallType::kSocket, f, -1);
}

int RuleLookup::lookup_rule(const Call& c) const noexcept {
  if (!has_rules(filters::CallType::kGetaddrinfo)) return -1;
  filters::SocketFacts f;
  if (c.hints) {
    f.family = c.hints->ai_family == AF_UNSPEC ? -1 : c.hints->ai_family;
    f.type = c.hints->ai_socktype == 0 ? -1 : c.hints->ai_socktype;
    f.protocol = c.hints->ai_protocol == 0 ? -1 : c.hints->ai_protocol;
  }
  if (c.service) {   // a numeric service is the port the program is about to use
    int port = 0;
    const char* p = c.service;
    for (; *p >= '0' && *p <= '9' && port <= 65535; ++p) port = port * 10 + (*p - '0');
    if (*p == 0 && p != c.service && port <= 65535) f.service_port = f.peer_port = port;
  }
  f.host = c.host;
  return first_enabled(filters::CallType::kGetaddrinfo, f, -1);
}

// What the rules see of a call on a tracked socket. Addresses and paths cost system calls, so
// they are read only when some rule on this call type names them (the answer is cached per socket
// by rule_for for most calls).
filters::SocketFacts RuleLookup::facts_of(const Call& c, filters::CallType t, const FdEntry& e, std::uint32_t bits,
                                          const Ports& p, char* path_buf) const noexcept {
  const Cookie ck = e.cookie.load(std::memory_order_relaxed);
  filters::SocketFacts f;
  f.family = cookie_family(ck);
  f.type = cookie_type(ck);
  f.protocol = cookie_protocol(ck);
  const ConnState conn = FdState{bits}.conn();
  const bool to_addr = c.addr && (c.op == Op::kConnect || c.op == Op::kSend);
  f.local_port = p.local;
  f.peer_port = p.peer;
  f.service_port = p.service;
  if (conn == ConnState::kConnected || conn == ConnState::kConnecting) f.role = filters::Role::kClient;
  if (conn == ConnState::kAccepted) f.role = filters::Role::kServer;
  if (c.op == Op::kGetsockopt || c.op == Op::kSetsockopt) {
    f.level = c.a;
    f.option = c.b;
  }
  const std::uint32_t needs = table_->needs(t);
  if (needs & (filters::kNeedAddresses | filters::kNeedPath)) {
    sockaddr_storage ss{};
    socklen_t n = sizeof ss;
    const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
    // The local end: the address being bound, else what the kernel says.
    if (c.op == Op::kBind && c.addr) {
      to_address(c.addr, c.addrlen, f.local);
    } else if (os::getsockname(c.fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0) {
      to_address(sa, n, f.local);
      if ((needs & filters::kNeedPath) && to_path(sa, n, path_buf, kPathBuf)) f.path = path_buf;
    }
    if (c.op == Op::kBind && c.addr && (needs & filters::kNeedPath) && to_path(c.addr, c.addrlen, path_buf, kPathBuf))
      f.path = path_buf;
    // The peer: the address connected or sent to, else the connected peer's.
    ss = {};
    n = sizeof ss;
    if (to_addr) {
      to_address(c.addr, c.addrlen, f.peer);
      if ((needs & filters::kNeedPath) && to_path(c.addr, c.addrlen, path_buf, kPathBuf)) f.path = path_buf;
    } else if (os::getpeername(c.fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0) {
      to_address(sa, n, f.peer);
      if ((needs & filters::kNeedPath) && to_path(sa, n, path_buf, kPathBuf)) f.path = path_buf;
    }
  }
  return f;
}

int RuleLookup::first_enabled(filters::CallType t, const filters::SocketFacts& f, int after) const noexcept {
  int idx = table_->first_match(t, f, after);
  while (idx >= 0 && (idx >= static_cast<int>(stats::kMaxRules) ||
                      seg_->rules[idx].disabled.load(std::memory_order_relaxed)))
    idx = table_->first_match(t, f, idx);
  return idx;
}

}  // namespace shim
