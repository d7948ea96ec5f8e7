#include "shim/switch.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "bpfvm/compose.h"
#include "shim/actions.h"
#include "shim/debug_log.h"
#include "shim/sockaddr_text.h"
#include "shim/real.h"
#include "shim/stats/segment.h"
#include "shim/sys.h"

namespace shim {

constinit Switch g_switch;

namespace {

// The protocol the kernel will report with SO_PROTOCOL, without asking it when the answer is
// fixed: inet stream/dgram with 0 mean TCP/UDP, unix sockets have 0. Anything else is asked.
int kernel_protocol(int fd, int domain, int type, int protocol) noexcept {
  if (const int fixed = Switch::fixed_protocol(domain, type, protocol); fixed >= 0) return fixed;
  int p = protocol;
  socklen_t n = sizeof p;
  if (fd >= 0 && real::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &p, &n) != 0) p = protocol;
  return p;
}

}  // namespace

namespace {

std::uint16_t local_port_of(int fd) noexcept {
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0
             ? Switch::port_of(reinterpret_cast<sockaddr*>(&ss), n)
             : 0;
}

std::uint16_t peer_port_of(int fd, bool* connected) noexcept {
  sockaddr_storage ss{};
  socklen_t n = sizeof ss;
  const bool ok = ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0;
  if (connected) *connected = ok;
  return ok ? Switch::port_of(reinterpret_cast<sockaddr*>(&ss), n) : 0;
}

bool would_block(int e) noexcept { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

// Errors by which a pending non-blocking connect reports that it failed.
bool connect_error(int e) noexcept {
  return e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH ||
         e == ECONNRESET || e == ECONNABORTED;
}

std::uint64_t mmsg_bytes(const mmsghdr* v, long n) noexcept {
  std::uint64_t total = 0;
  for (long i = 0; v && i < n; ++i) total += v[i].msg_len;
  return total;
}

Cookie cookie_of(const FdEntry& e) noexcept { return e.cookie.load(std::memory_order_relaxed); }

}  // namespace

bool Switch::before(const Call& c, Decision& d) noexcept {
  switch (c.op) {
    case Op::kSocket:
    case Op::kSocketpair:
      if (const int idx = socket_rule(c); idx >= 0) fire(c, d, idx);
      // A socket the rule refused counts as a failed open and a fault (docs/stats.md), as the
      // seccomp supervisor counts it.
      if (d.inject) {
        const int type = c.b & kSockTypeMask;
        stats::CookieSlot* slot = slot_for(make_cookie(c.a, type, kernel_protocol(-1, c.a, type, c.c)));
        stats::add(slot, stats::kOpenFailed);
        stats::add(slot, stats::kFaultsInjected);
      }
      return true;
    case Op::kGetaddrinfo: {
      if (!has_rules(filters::CallType::kGetaddrinfo)) return true;
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
      apply_rules(c, d, f);
      return true;   // general() makes the real lookup guarded; after() counts nothing
    }
    case Op::kFork:
      return false;
    case Op::kCloseRange:
      if (!in_vfork_child()) close_range_fds(c);
      return false;
    case Op::kDup2: {
      // dup2 closes the target silently; remember what was there so after() can count it. The
      // target's entry is overwritten only once dup2 succeeded: the kernel swaps the number from
      // the old file to the new one at once, so it never names nothing, and a call racing on it
      // must not find it "unknown" and classify whichever socket it meets half-way.
      if (c.a == c.fd || in_vfork_child()) return false;
      if (FdEntry* t = fds_.find(c.a)) {
        d.target = t;
        t->swaps.fetch_add(1, std::memory_order_acq_rel);   // odd: a swap is under way (after() ends it)
        // What the number holds: after_dup() counts its close only if dup2 succeeded.
        d.target_state = t->state.load(std::memory_order_relaxed);
        if (FdState{d.target_state}.kind() == FdKind::kSocket) {
          d.slot = t->slot.load(std::memory_order_relaxed);
          d.target_id = t->sock_id.load(std::memory_order_relaxed);
        }
      }
      d.entry = fds_.find(c.fd);
      d.state = d.entry ? d.entry->state.load(std::memory_order_relaxed) : 0;
      return true;
    }
    case Op::kDup:
      if (in_vfork_child()) return false;
      d.entry = fds_.find(c.fd);
      d.state = d.entry ? d.entry->state.load(std::memory_order_relaxed) : 0;
      return true;
    default:
      return before_fd(c, d);
  }
}

void Switch::close_range_fds(const Call& c) noexcept {
  const unsigned first = static_cast<unsigned>(c.a), last = static_cast<unsigned>(c.b);
  // The kernel refuses (EINVAL) flags it does not know and first > last before closing
  // anything: such a call closes nothing, so it counts nothing. CLOEXEC closes nothing yet.
  constexpr int kKnownFlags = CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC;
  if ((c.c & ~kKnownFlags) || (c.c & CLOSE_RANGE_CLOEXEC) || first > last) return;
  // Clear before the real call: once it returns, the numbers can be reused by other threads.
  fds_.for_each_socket_in(first, last, [&](int fd, FdEntry&) {
    stats::CookieSlot* slot = nullptr;
    if (forget_fd(fd, slot)) stats::add(slot, stats::kClosed);
  });
}

// Calls on one fd. Fast exits first: an fd known not to be a socket costs two loads.
bool Switch::before_fd(const Call& c, Decision& d) noexcept {
  FdEntry* e = fds_.find(c.fd);
  std::uint32_t bits = e ? e->state.load(std::memory_order_relaxed) : 0;
  FdKind kind = FdState{bits}.kind();
  if (kind == FdKind::kNotSocket) {
    if (c.op == Op::kClose) fds_.clear(c.fd);
    return false;
  }
  if (kind == FdKind::kUnknown) {
    // Closing an fd never seen as a socket needs no classification: forget the number.
    if (c.op == Op::kClose) {
      if (e) fds_.clear(c.fd);
      return false;
    }
    e = fds_.get(c.fd);
    if (!e || !classify(c.fd, *e)) return false;
    bits = e->state.load(std::memory_order_relaxed);
    kind = FdState{bits}.kind();
  }
  if (kind != FdKind::kSocket) return false;   // kBusy: another thread is classifying it
  d.entry = e;
  d.state = bits;
  d.swaps = e->swaps.load(std::memory_order_acquire);
  d.slot = e->slot.load(std::memory_order_relaxed);
  if (const int idx = rule_for(c, *e, bits); idx >= 0) {
    fire(c, d, idx);
    if (d.inject) {
      count_injected(c, d);
      return true;
    }
  }
  if ((bits & FdState::kArmed) && (c.op == Op::kSetsockopt || c.op == Op::kGetsockopt) &&
      filter_option_of(c.op == Op::kSetsockopt, c.a, c.b)) {
    d.custom = true;   // perform() answers it
    d.filter_option = true;
  }
  // Peeked bytes stay queued: only the recv that takes them is paced.
  if ((bits & FdState::kPaced) && (c.op == Op::kRecv || c.op == Op::kRead) && !(c.flags & MSG_PEEK)) hold_back(c, d);
  if (c.op == Op::kClose) {
    if (in_vfork_child()) return false;
    close_fd(c.fd, d);
    if (capture::on()) capture::closing(c.fd, d.count_close);
  }
  return true;
}

// connect, bind and addressed sends carry the address that decides the service port; every other
// call is decided by the socket alone, so its answer is cached in the entry until its facts change.
int Switch::rule_for(const Call& c, FdEntry& e, std::uint32_t bits) noexcept {
  const filters::CallType t = call_type_of(c.op);
  if (!has_rules(t)) return -1;
  // Most sockets concern no rule at all: their family and service port say so at once, before
  // any of the facts that cost more (addresses are system calls) are gathered.
  const bool per_call_port = c.addr != nullptr;
  if (!table_->may_match(t, cookie_family(cookie_of(e)), ports_of(c, e, bits).service)) {
    if (!per_call_port) e.cache_rule(t, 1);
    return -1;
  }
  char path[kPathBuf];
  const bool per_call = c.op == Op::kConnect || c.op == Op::kBind || (c.op == Op::kSend && c.addr) ||
                        c.op == Op::kGetsockopt || c.op == Op::kSetsockopt;
  if (per_call) return first_enabled(t, facts_of(c, e, bits, path), -1);
  std::uint16_t v = e.cached_rule(t);
  if (v == 0) {
    const int found = table_->first_match(t, facts_of(c, e, bits, path));
    v = static_cast<std::uint16_t>(found < 0 ? 1 : found + 2);
    e.cache_rule(t, v);
  }
  int idx = static_cast<int>(v) - 2;
  // A rule switched off through the segment is skipped as if absent (rare: no caching).
  if (idx >= 0 && seg_->rules[idx].disabled.load(std::memory_order_relaxed))
    idx = first_enabled(t, facts_of(c, e, bits, path), idx);
  return idx;
}

bool Switch::rule_free_by_port(FdEntry& e, filters::CallType t, std::uint32_t bits,
                               const sockaddr* addr, socklen_t addrlen) noexcept {
  // The service port as ports_of() has it for a call that names no address (or, with addr, for a
  // connect or a send to it), without building a Call.
  int service = -1;
  if (addr) {
    service = port_of(addr, addrlen);
  } else {
    const ConnState conn = FdState{bits}.conn();
    const int peer = e.peer_port.load(std::memory_order_relaxed);
    const int local = e.local_port.load(std::memory_order_relaxed);
    if (peer && (conn == ConnState::kConnected || conn == ConnState::kConnecting))
      service = peer;
    else if (local)
      service = local;
  }
  // The port bitmap's answer needs no call, so this function needs no frame; the family lists
  // only when a rule names the port (rule_free_by_family).
  if (table_->port_may_match(t, service)) return rule_free_by_family(e, t, service, addr != nullptr);
  if (!addr) e.cache_rule(t, 1);
  return true;
}

bool Switch::rule_free_by_family(FdEntry& e, filters::CallType t, int service, bool per_call) noexcept {
  if (table_->may_match(t, cookie_family(cookie_of(e)), service)) return false;
  if (!per_call) e.cache_rule(t, 1);
  return true;
}

int Switch::socket_rule(const Call& c) const noexcept {
  if (!has_rules(filters::CallType::kSocket)) return -1;
  const int type = c.b & kSockTypeMask;
  filters::SocketFacts f;
  f.family = c.a;
  f.type = type;
  f.protocol = kernel_protocol(-1, c.a, type, c.c);
  return first_enabled(filters::CallType::kSocket, f, -1);
}

namespace {

// The unix path of an address, '@' for abstract names; false when it has none.
bool to_path(const sockaddr* sa, socklen_t n, char* out, std::size_t len) noexcept {
  if (!sa || sa->sa_family != AF_UNIX) return false;
  format_sockaddr(sa, n, out, len);
  return out[0] != 0;
}

}  // namespace

// The ports of a call on a tracked socket, as facts_of reports them (-1 unknown).
Switch::Ports Switch::ports_of(const Call& c, const FdEntry& e, std::uint32_t bits) noexcept {
  Ports p;
  const ConnState conn = FdState{bits}.conn();
  const int peer = e.peer_port.load(std::memory_order_relaxed);
  const int local = e.local_port.load(std::memory_order_relaxed);
  const bool to_addr = c.addr && (c.op == Op::kConnect || c.op == Op::kSend);
  const bool connected = conn == ConnState::kConnected || conn == ConnState::kConnecting;
  if (local) p.local = local;
  if (peer && connected) p.peer = peer;
  if (to_addr) p.peer = port_of(c.addr, c.addrlen);
  if (c.addr && c.op == Op::kBind) p.local = port_of(c.addr, c.addrlen);
  if (to_addr || (connected && peer))
    p.service = p.peer;
  else if (p.local >= 0)
    p.service = p.local;
  return p;
}

// What the rules see of a call on a tracked socket. The service port is the peer's port on a
// socket that connects or sends to an address, the local port on a bound, listening or accepted
// socket. Addresses and paths cost system calls, so they are read only when some rule on this
// call type names them (the answer is cached per socket by rule_for for most calls).
filters::SocketFacts Switch::facts_of(const Call& c, const FdEntry& e, std::uint32_t bits,
                                      char* path_buf) const noexcept {
  const Cookie ck = cookie_of(e);
  filters::SocketFacts f;
  f.family = cookie_family(ck);
  f.type = cookie_type(ck);
  f.protocol = cookie_protocol(ck);
  const ConnState conn = FdState{bits}.conn();
  const Ports p = ports_of(c, e, bits);
  const bool to_addr = c.addr && (c.op == Op::kConnect || c.op == Op::kSend);
  const bool connected = conn == ConnState::kConnected || conn == ConnState::kConnecting;
  f.local_port = p.local;
  f.peer_port = p.peer;
  f.service_port = p.service;
  if (connected) f.role = filters::Role::kClient;
  if (conn == ConnState::kAccepted) f.role = filters::Role::kServer;
  if (c.op == Op::kGetsockopt || c.op == Op::kSetsockopt) {
    f.level = c.a;
    f.option = c.b;
  }
  const std::uint32_t needs = table_->needs(call_type_of(c.op));
  if (needs & (filters::kNeedAddresses | filters::kNeedPath)) {
    sockaddr_storage ss{};
    socklen_t n = sizeof ss;
    const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
    // The local end: the address being bound, else what the kernel says.
    if (c.op == Op::kBind && c.addr) {
      to_address(c.addr, c.addrlen, f.local);
    } else if (::getsockname(c.fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0) {
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
    } else if (::getpeername(c.fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0) {
      to_address(sa, n, f.peer);
      if ((needs & filters::kNeedPath) && to_path(sa, n, path_buf, kPathBuf)) f.path = path_buf;
    }
  }
  return f;
}

void Switch::apply_rules(const Call& c, Decision& d, const filters::SocketFacts& f) noexcept {
  const int idx = first_enabled(call_type_of(c.op), f, -1);
  if (idx >= 0) fire(c, d, idx);
}

int Switch::first_enabled(filters::CallType t, const filters::SocketFacts& f, int after) const noexcept {
  int idx = table_->first_match(t, f, after);
  while (idx >= 0 && (idx >= static_cast<int>(stats::kMaxRules) ||
                      seg_->rules[idx].disabled.load(std::memory_order_relaxed)))
    idx = table_->first_match(t, f, idx);
  return idx;
}

std::uint64_t Switch::elapsed_ms() const noexcept {
  const std::int64_t ns = stats::monotonic_ns() - seg_->header.created_mono_ns;
  return ns > 0 ? static_cast<std::uint64_t>(ns) / 1000000u : 0;
}

SocketRuleCount* Switch::socket_count(FdEntry& e, int rule) noexcept {
  const auto want = static_cast<std::uint32_t>(rule) + 1;
  for (auto& c : e.per_socket) {
    std::uint32_t cur = c.rule.load(std::memory_order_relaxed);
    if (cur == want) return &c;
    if (cur == 0 && c.rule.compare_exchange_strong(cur, want, std::memory_order_relaxed)) {
      c.hits.store(0, std::memory_order_relaxed);
      c.fired.store(0, std::memory_order_relaxed);
      return &c;
    }
    if (cur == want) return &c;
  }
  return nullptr;   // more per-socket rules on one socket than slots: counted per run instead
}

// Triggers live in the segment so all threads and processes of a run share them (or, with
// "count": "socket", in the socket's entry).
void Switch::fire(const Call& c, Decision& d, int idx) noexcept {
  stats::RuleSlot& rs = seg_->rules[idx];
  const filters::Rule& rule = table_->rules()[static_cast<std::size_t>(idx)];
  const filters::When& w = rule.when;
  SocketRuleCount* sc = w.count == filters::Count::kSocket && d.entry ? socket_count(*d.entry, idx) : nullptr;
  filters::Hit h;
  const std::uint64_t run_hit = rs.hits.fetch_add(1, std::memory_order_relaxed) + 1;
  h.n = sc ? sc->hits.fetch_add(1, std::memory_order_relaxed) + 1 : run_hit;
  h.draw_n = run_hit;   // per-socket counts must not make every socket draw the same numbers
  if (w.from_ms || w.until_ms) h.elapsed_ms = elapsed_ms();
  if (d.entry) {
    // Bytes before this call: sent for a send, received for a recv, both for any other call.
    const std::uint64_t sent = d.entry->sent_bytes.load(std::memory_order_relaxed);
    const std::uint64_t recvd = d.entry->recv_bytes.load(std::memory_order_relaxed);
    const filters::CallType t = call_type_of(c.op);
    h.socket_bytes = t == filters::CallType::kSend ? sent : t == filters::CallType::kRecv ? recvd : sent + recvd;
    if (const std::uint32_t at = d.entry->connected_at.load(std::memory_order_relaxed); at != 0)
      h.connected_ms = static_cast<std::int64_t>(elapsed_ms()) - (at - 1);
  }
  const std::uint32_t rule_no = static_cast<std::uint32_t>(idx);
  if (!w.selects(h, seed_, rule_no)) {
    // Not yet at after_bytes: let exactly the bytes up to it through, so the fault lands on the
    // byte the rule names rather than at whatever call crosses it.
    if (w.after_bytes && d.entry && h.socket_bytes < *w.after_bytes && cookie_type(cookie_of(*d.entry)) == SOCK_STREAM &&
        (call_type_of(c.op) == filters::CallType::kSend || call_type_of(c.op) == filters::CallType::kRecv)) {
      filters::Hit at = h;
      at.socket_bytes = *w.after_bytes;
      if (w.selects(at, seed_, rule_no)) {
        d.custom = true;
        d.limit = std::min<std::uint64_t>(d.limit, *w.after_bytes - h.socket_bytes);
      }
    }
    return;
  }
  std::atomic<std::uint32_t>* sfired = sc ? &sc->fired : nullptr;
  if (sfired) {
    std::uint32_t f = sfired->load(std::memory_order_relaxed);
    do {
      if (w.times && f >= w.times) return;
    } while (!sfired->compare_exchange_weak(f, f + 1, std::memory_order_relaxed));
    rs.fired.fetch_add(1, std::memory_order_relaxed);
  } else {
    if (!stats::take_fire(rs, w.times)) return;
  }
  act(c, d, rule, idx, h.n, run_hit);
}

namespace {

bool is_send(Op op) noexcept { return op == Op::kSend || op == Op::kWrite || op == Op::kSendmmsg; }

}  // namespace

void Switch::act(const Call& c, Decision& d, const filters::Rule& rule, int idx, std::uint64_t hit,
                 std::uint64_t draw_hit) noexcept {
  const filters::Action& a = rule.action;
  const auto rule_no = static_cast<std::uint32_t>(idx);
  if (a.delay_ms || a.jitter_ms) {
    const std::uint64_t jitter =
        a.jitter_ms ? filters::random64(seed_, rule_no, draw_hit, filters::kDrawJitter) % (a.jitter_ms + 1ull) : 0;
    actions::sleep_ms(a.delay_ms + jitter);   // a signal only shortens the delay
  }
  const auto inject = [&d](long ret, int err) {
    d.inject = true;
    d.ret = ret;
    d.err = err;
  };
  const bool stream = d.entry && cookie_type(cookie_of(*d.entry)) == SOCK_STREAM;
  switch (a.kind) {
    case filters::ActionKind::kNone:
      break;
    case filters::ActionKind::kFail:
      if (c.op == Op::kGetaddrinfo)
        inject(a.eai, a.eai == EAI_SYSTEM ? a.err : d.saved_errno);
      else
        inject(-1, a.err);
      break;
    case filters::ActionKind::kHang:
      inject(-1, actions::sleep_ms(a.hang_ms) ? (a.err ? a.err : ETIMEDOUT) : EINTR);
      break;
    case filters::ActionKind::kShort:
      if (stream) {   // a datagram cannot be shortened without losing its tail
        d.custom = true;
        d.limit = std::min<std::uint64_t>(d.limit, a.count);
      }
      break;
    case filters::ActionKind::kReset:
      if (d.entry) {
        if (capture::on()) capture::reset(c.fd);
        actions::reset(c.fd);
        d.entry->state.store(FdState::make(FdKind::kSocket, ConnState::kNone,
                                           d.state & ~FdState::kConnMask & ~FdState::kKindMask),
                             std::memory_order_relaxed);
        forget_rules(*d.entry);
      }
      if (c.op != Op::kClose) inject(-1, ECONNRESET);   // a close goes on and closes the fd
      break;
    case filters::ActionKind::kEagain:
      inject(-1, EAGAIN);
      break;
    case filters::ActionKind::kEintr:
      inject(-1, EINTR);
      break;
    case filters::ActionKind::kDrop:
      if (c.op == Op::kSendmmsg) {
        for (unsigned i = 0; c.mmsg && i < c.vlen; ++i) {
          std::size_t n = 0;
          for (std::size_t k = 0; k < c.mmsg[i].msg_hdr.msg_iovlen; ++k) n += c.mmsg[i].msg_hdr.msg_iov[k].iov_len;
          c.mmsg[i].msg_len = static_cast<unsigned>(n);
        }
        inject(static_cast<long>(c.vlen), d.saved_errno);
      } else {
        inject(static_cast<long>(actions::requested(c)), d.saved_errno);
      }
      break;
    case filters::ActionKind::kDuplicate:
      d.custom = true;
      d.duplicate = true;
      break;
    case filters::ActionKind::kCorrupt:
      d.custom = true;
      d.corrupt_bits = a.count;
      break;
    case filters::ActionKind::kRate:
      // As inbound_loss: the socket socket() and accept() make is paced once it exists.
      if (c.op == Op::kSocket || c.op == Op::kAccept)
        d.pace_rule = idx;
      else if (d.entry)
        pace(c.fd, d.entry, idx);
      break;
    case filters::ActionKind::kInboundLoss:
      // socket() and accept() make their socket in the real call: after() arms it. bind and
      // connect arm theirs now, so a connect's handshake already meets the loss.
      if (c.op == Op::kSocket || c.op == Op::kAccept)
        d.arm_rule = idx;
      else if (d.entry)
        arm_loss(c.fd, d.entry, cookie_family(cookie_of(*d.entry)), idx);
      break;
  }
  if (rule.then.kind != filters::AfterKind::kNone) {
    d.then = &rule.then;
  }
  d.draw = actions::Draw{seed_, rule_no, draw_hit};
  int shown = d.inject ? d.err : 0;
  if (c.op == Op::kGetaddrinfo && d.inject) shown = static_cast<int>(d.ret);
  if (!d.inject && d.then && d.then->err) shown = d.then->err;
  log_event(c, d, idx, hit, shown);
  if (debug_) debug::fault(rule.name.c_str(), filters::call_type_name(call_type_of(c.op)), c.fd, shown);
}

void Switch::arm_loss(int fd, FdEntry* e, int family, int idx) noexcept {
  if (family != AF_INET && family != AF_INET6) return;
  bpfvm::Instruction gate[bpfvm::kMaxComposedLossFilter];
  const std::size_t n = loss_gate(idx, gate);
  if (n == 0) return;   // the loader validated this shape; only damaged bytes get here
  // A socket that carries a rule's filter already (a listener's, passed on by accept) has the
  // program's part at its end; any other's filter is all the program's.
  const bool armed = e && (e->state.load(std::memory_order_relaxed) & FdState::kArmed);
  const socket_filter::Result r =
      socket_filter::arm(fd, {gate, n}, armed ? e->own_filter_len.load(std::memory_order_relaxed) : -1);
  if (r.armed) {
    set_filter_state(e, static_cast<std::uint16_t>(idx + 1), r.own_len);
    seg_->rules[idx].armed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (r.lifted) {
    set_filter_state(e, 0, 0);
    seg_->rules[idx].lifted.fetch_add(1, std::memory_order_relaxed);
  }
  if (debug_) debug::line(r.lifted ? "inbound_loss: the socket keeps the program's own filter; rule lifted"
                                   : "inbound_loss: the kernel refused the socket filter");
}

void Switch::inherit_filter(const FdEntry& listener, FdEntry* accepted) noexcept {
  const int idx = static_cast<int>(listener.loss_rule.load(std::memory_order_relaxed)) - 1;
  if (!accepted || idx < 0 || idx >= static_cast<int>(stats::kMaxRules)) return;
  set_filter_state(accepted, static_cast<std::uint16_t>(idx + 1), listener.own_filter_len.load(std::memory_order_relaxed));
  seg_->rules[idx].armed.fetch_add(1, std::memory_order_relaxed);
}

void Switch::pace(int fd, FdEntry* e, int idx) noexcept {
  if (idx < 0 || static_cast<std::size_t>(idx) >= table_->rules().size()) return;
  const std::uint32_t rate = table_->rules()[static_cast<std::size_t>(idx)].action.rate;
  if (rate == 0) return;
  // The kernel's TCP pacing caps what the socket sends (setting it also turns pacing on for TCP
  // without the fq qdisc: sk_pacing_status). A 32-bit value is what every kernel takes.
  const int saved = errno;
  const bool sent = real::setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof rate) == 0;
  errno = saved;
  if (!sent && debug_) debug::line("rate: the kernel refused SO_MAX_PACING_RATE");
  set_recv_rate(e, rate);
  seg_->rules[idx].armed.fetch_add(1, std::memory_order_relaxed);
}

void Switch::set_recv_rate(FdEntry* e, std::uint32_t rate) noexcept {
  if (!e || rate == 0) return;
  e->recv_rate.store(rate, std::memory_order_relaxed);
  e->recv_due_ns.store(0, std::memory_order_relaxed);
  set_flag(*e, FdState::kPaced, true);
}

void Switch::set_flag(FdEntry& e, std::uint32_t flag, bool on) noexcept {
  // Only on a socket's entry: a close racing this one may have cleared it, and must win. A few
  // tries: the CAS fails only while other threads change the state.
  std::uint32_t bits = e.state.load(std::memory_order_relaxed);
  for (int tries = 0; tries < 16 && FdState{bits}.kind() == FdKind::kSocket; ++tries) {
    const std::uint32_t next = on ? bits | flag : bits & ~flag;
    if (next == bits || e.state.compare_exchange_weak(bits, next, std::memory_order_relaxed)) break;
  }
}

namespace {
constexpr std::uint32_t kPacedSegment = 64 * 1024;
}  // namespace

void Switch::hold_back(const Call& c, Decision& d) noexcept {
  FdEntry& e = *d.entry;
  const std::uint32_t rate = e.recv_rate.load(std::memory_order_relaxed);
  if (rate == 0) return;
  const std::int64_t due = e.recv_due_ns.load(std::memory_order_relaxed);
  if (due > stats::monotonic_ns()) actions::sleep_until_ns(due);   // a signal only cuts it short
  d.paced = true;
  // At most 20 ms' worth per read, so the bytes arrive in steps of that size rather than a
  // buffer's worth at once and then nothing; but 64 KiB (a loopback segment) when that is at
  // most a second's worth: a read that frees less than a segment leaves the window closed (the
  // receiver avoids silly windows), and the sender then waits for its zero-window probes, whose
  // backoff stalled transfers for seconds. MSG_WAITALL asks for all of it: left whole.
  if (!(c.flags & MSG_WAITALL) && cookie_type(cookie_of(e)) == SOCK_STREAM) {
    d.custom = true;
    d.limit = std::min<std::uint64_t>(d.limit, std::max({rate / 50, std::min(rate, kPacedSegment), 1u}));
  }
}

void Switch::charge(FdEntry& e, std::uint64_t n) noexcept {
  const std::uint32_t rate = e.recv_rate.load(std::memory_order_relaxed);
  if (rate == 0) return;
  // n / rate seconds in ns, in two parts so that n * 10^9 cannot overflow.
  const auto cost = static_cast<std::int64_t>(n / rate * 1000000000u + n % rate * 1000000000u / rate);
  const std::int64_t now = stats::monotonic_ns();
  std::int64_t due = e.recv_due_ns.load(std::memory_order_relaxed);
  // From now, not from a due time long past: time the program spent not reading earns no burst.
  for (int tries = 0; tries < 16; ++tries)
    if (e.recv_due_ns.compare_exchange_weak(due, std::max(due, now) + cost, std::memory_order_relaxed)) break;
}

std::size_t Switch::loss_gate(int idx, std::span<bpfvm::Instruction> out) const noexcept {
  if (idx < 0 || static_cast<std::size_t>(idx) >= table_->rules().size()) return 0;
  const filters::Action& a = table_->rules()[static_cast<std::size_t>(idx)].action;
  return a.kind == filters::ActionKind::kInboundLoss ? filters::loss_program(a, out) : 0;
}

void Switch::set_filter_state(FdEntry* e, std::uint16_t rule_plus1, std::uint16_t own_len) noexcept {
  if (!e) return;
  const auto record = [&](FdEntry& x) {
    x.loss_rule.store(rule_plus1, std::memory_order_relaxed);
    x.own_filter_len.store(own_len, std::memory_order_relaxed);
    set_flag(x, FdState::kArmed, rule_plus1 != 0);
  };
  record(*e);
  // The filter is the socket's: every number that names it (dup) says the same.
  const std::uint64_t id = e->sock_id.load(std::memory_order_relaxed);
  if (id != 0 && (e->state.load(std::memory_order_relaxed) & FdState::kShared))
    fds_.for_each_socket([&](int, FdEntry& other) {
      if (&other != e && other.sock_id.load(std::memory_order_relaxed) == id) record(other);
    });
}

long Switch::filter_option(const Call& c, const Decision& d) noexcept {
  FdEntry& e = *d.entry;
  const int idx = static_cast<int>(e.loss_rule.load(std::memory_order_relaxed)) - 1;
  const std::uint16_t own = e.own_filter_len.load(std::memory_order_relaxed);
  bpfvm::Instruction gate[bpfvm::kMaxComposedLossFilter];
  const std::size_t n = loss_gate(idx, gate);
  if (n == 0) {   // a record from a damaged table: the program's call as it asked
    errno = d.saved_errno;
    return c.op == Op::kGetsockopt ? real::fns.getsockopt(c.fd, c.a, c.b, c.optval, c.optlen)
                                   : real::fns.setsockopt(c.fd, c.a, c.b, c.optin, static_cast<socklen_t>(c.c));
  }
  socket_filter::Result r;
  if (c.op == Op::kGetsockopt)
    r = socket_filter::get(c.fd, bpfvm::gate_prefix_size(n), own, c.optval, c.optlen);
  else if (c.b == SO_ATTACH_FILTER)
    r = socket_filter::attach(c.fd, {gate, n}, c.optin, static_cast<socklen_t>(c.c));
  else if (c.b == SO_ATTACH_BPF)
    r = socket_filter::attach_bpf(c.fd, c.optin, static_cast<socklen_t>(c.c));
  else
    r = socket_filter::detach(c.fd, {gate, n}, own);
  if (r.lifted) {
    set_filter_state(&e, 0, 0);
    seg_->rules[idx].lifted.fetch_add(1, std::memory_order_relaxed);
    if (debug_) debug::line("inbound_loss: the program's own socket filter replaced the rule's; rule lifted");
  } else if (r.ret == 0 && c.op == Op::kSetsockopt) {
    set_filter_state(&e, static_cast<std::uint16_t>(idx + 1), r.own_len);
  }
  errno = r.ret == 0 ? d.saved_errno : r.err;
  return r.ret;
}

long Switch::perform(const Call& c, const Decision& d) noexcept {
  if (d.filter_option) return filter_option(c, d);
  if (d.corrupt_bits && is_send(c.op)) return actions::send_corrupted(c, d.corrupt_bits, d.draw);
  const long r = actions::transfer(c, d.limit);
  if (d.duplicate && r >= 0) {
    const int e = errno;
    const long copy = actions::transfer(c, d.limit);   // its result is not the program's business
    if (capture::on()) capture::after_call(c, copy, errno, false);   // but its bytes went out
    errno = e;
  }
  return r;
}

void Switch::apply_then(const Call& c, Decision& d, long& r, int& e) noexcept {
  const filters::After& t = *d.then;
  switch (t.kind) {
    case filters::AfterKind::kNone:
      break;
    case filters::AfterKind::kFail:
      // A socket or accept that "failed" must not leave the program an fd it was never given.
      if ((c.op == Op::kSocket || c.op == Op::kAccept) && r >= 0) real::fns.close(static_cast<int>(r));
      if (c.op == Op::kSocketpair && r == 0 && c.sv) {
        real::fns.close(c.sv[0]);
        real::fns.close(c.sv[1]);
      }
      r = -1;
      e = t.err;
      break;
    case filters::AfterKind::kSoError:
      if (c.op != Op::kConnect || !d.entry) break;
      if (r == -1 && (e == EINPROGRESS || e == EINTR)) {
        d.entry->so_error.store(t.err, std::memory_order_relaxed);
      } else if (r == 0) {
        r = -1;   // it connected at once: a blocking connect reports the error itself
        e = t.err;
      }
      break;
    case filters::AfterKind::kTruncate:
      if (r > 0 && static_cast<std::uint64_t>(r) > t.count && c.op != Op::kRecvmmsg)
        r = static_cast<long>(t.count);
      break;
    case filters::AfterKind::kCorrupt:
      if (r > 0 && c.op != Op::kRecvmmsg)
        actions::corrupt_received(c, static_cast<std::size_t>(r), t.count, d.draw);
      break;
  }
}

// The decision log: what fired, where and when, for `sockshim stats NAME --events`.
void Switch::log_event(const Call& c, const Decision& d, int rule, std::uint64_t hit, int err) noexcept {
  std::uint64_t number = 0;
  stats::Event& ev = stats::begin_event(*seg_, number);
  ev.t_ns = stats::monotonic_ns() - seg_->header.created_mono_ns;
  ev.pid = static_cast<std::int32_t>(syscall(SYS_getpid));
  ev.tid = static_cast<std::int32_t>(syscall(SYS_gettid));
  ev.fd = c.op == Op::kGetaddrinfo ? -1 : c.fd;
  ev.call = static_cast<std::uint16_t>(call_type_of(c.op));
  ev.rule = static_cast<std::uint16_t>(rule);
  ev.cookie = d.entry ? cookie_of(*d.entry) : 0;
  ev.hit = hit;
  const filters::Rule& r = table_->rules()[static_cast<std::size_t>(rule)];
  ev.action = static_cast<std::uint8_t>(r.action.kind);
  ev.after = static_cast<std::uint8_t>(r.then.kind);
  ev.err = err;
  ev.peer[0] = 0;
  if (c.op == Op::kGetaddrinfo) {
    std::snprintf(ev.peer, sizeof ev.peer, "%s", c.host ? c.host : "");
  } else if (c.addr && (c.op == Op::kConnect || c.op == Op::kSend || c.op == Op::kBind)) {
    format_sockaddr(c.addr, c.addrlen, ev.peer, sizeof ev.peer);
  } else if (d.entry) {
    sockaddr_storage ss{};
    socklen_t n = sizeof ss;
    if (::getpeername(c.fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0)
      format_sockaddr(reinterpret_cast<const sockaddr*>(&ss), n, ev.peer, sizeof ev.peer);
    if (ev.peer[0] == 0 && ::getsockname(c.fd, reinterpret_cast<sockaddr*>(&ss), &(n = sizeof ss)) == 0)
      format_sockaddr(reinterpret_cast<const sockaddr*>(&ss), n, ev.peer, sizeof ev.peer);
  }
  stats::publish_event(ev, number);
}

// An injected failure counts as the failure of that call, plus one fault.
void Switch::count_injected(const Call& c, Decision& d) noexcept {
  stats::add(d.slot, stats::kFaultsInjected);
  switch (c.op) {
    case Op::kConnect: stats::add(d.slot, stats::kConnectFailed); break;
    case Op::kListen: stats::add(d.slot, stats::kListenFailed); break;
    case Op::kAccept: stats::add(d.slot, stats::kAcceptFailed); break;
    case Op::kClose: stats::add(d.slot, stats::kCloseFailed); break;
    default: break;
  }
}

// Reads what the kernel knows of an fd the shim has not seen created (inherited across exec,
// or made by a path the shim does not see). One-time cost per fd. Another thread may dup2 a
// different socket onto the number between two of these questions; the socket's inode, the same
// before and after them, shows that every answer came from one socket (else ask again, or leave
// the fd unknown). The entry is written only if it is still unknown: whoever wrote it meanwhile
// (socket, accept, dup2) knew better.
bool Switch::classify(int fd, FdEntry& e) noexcept {
  struct stat first {}, last {};
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (sys::fstat(fd, &first) != 0) return false;
    if (!S_ISSOCK(first.st_mode)) {
      std::uint32_t unknown = 0;
      e.state.compare_exchange_strong(unknown, FdState::make(FdKind::kNotSocket, ConnState::kNone, 0),
                                      std::memory_order_relaxed);
      return false;
    }
    int type = 0, domain = 0, accepting = 0;
    socklen_t n = sizeof type;
    if (real::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) != 0) return false;
    n = sizeof domain;
    if (real::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &n) != 0) return false;
    const int protocol = kernel_protocol(fd, domain, type, 0);
    n = sizeof accepting;
    real::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &n);
    bool connected = false;
    const std::uint16_t peer = peer_port_of(fd, &connected);
    const std::uint16_t local = local_port_of(fd);
    if (sys::fstat(fd, &last) != 0) return false;
    if (last.st_ino != first.st_ino || last.st_dev != first.st_dev) continue;
    const ConnState conn = accepting ? ConnState::kListening
                                     : connected ? ConnState::kConnected : ConnState::kNone;
    const Cookie ck = make_cookie(domain, type, protocol);
    std::uint32_t unknown = 0;
    if (!e.state.compare_exchange_strong(unknown, FdState::make(FdKind::kBusy, ConnState::kNone, 0),
                                         std::memory_order_acquire))
      return FdState{unknown}.kind() == FdKind::kSocket;
    e.cookie.store(ck, std::memory_order_relaxed);
    e.sock_id.store(0, std::memory_order_relaxed);   // given when first dup'd
    e.slot.store(slot_for(ck), std::memory_order_relaxed);
    e.local_port.store(local, std::memory_order_relaxed);
    e.peer_port.store(peer, std::memory_order_relaxed);
    forget_rules(e);
    if (socket_state_) e.reset_rule_state();
    e.state.store(FdState::make(FdKind::kSocket, conn, FdState::kInherited), std::memory_order_release);
    return true;
  }
  return false;   // the number kept changing under us: unknown still, asked again next call
}

stats::CookieSlot* Switch::slot_for_miss(Cookie c) noexcept {
  stats::CookieSlot* s = stats::cookie_slot(*seg_, c);
  // A full table (counted in the header as cookie_overflow): the socket counts into a slot of
  // this process that no report reads, so every fd entry has a slot and the hot paths need no test.
  if (!s) return &overflow_slot_;
  slot_cache_[(c * 0x9e3779b97f4a7c15ull) >> 60].store(s, std::memory_order_relaxed);
  return s;
}

// A new socket under this number: no rule decision or rule state of the old one carries over.
void Switch::open_rule_state(FdEntry& e, ConnState conn) noexcept {
  forget_rules(e);
  if (socket_state_) {
    e.reset_rule_state();
    if (conn == ConnState::kAccepted) stamp_connected(e);
  }
}

bool Switch::last_reference(int fd, std::uint64_t sock_id) const noexcept {
  bool other = false;
  fds_.for_each_socket([&](int other_fd, FdEntry& e) {
    if (other_fd != fd && e.sock_id.load(std::memory_order_relaxed) == sock_id) other = true;
  });
  return !other;
}

// Forget fd before the real close runs (its number may be reused the moment the kernel frees
// it) and decide whether this close is the one `closed` counts.
bool Switch::forget_fd(int fd, stats::CookieSlot*& slot) noexcept {
  FdEntry* e = fds_.find(fd);
  if (!e) return false;
  const FdState st{e->state.load(std::memory_order_relaxed)};
  bool count = false;
  if (st.kind() == FdKind::kSocket) {
    slot = e->slot.load(std::memory_order_relaxed);
    // A shared socket gives up this number's reference also when inherited: its other numbers
    // must still find out which close is the last.
    const bool last = !st.has(FdState::kShared) ||
                      release_reference(fd, e->sock_id.load(std::memory_order_relaxed));
    count = !st.has(FdState::kInherited) && last;
  }
  fds_.clear(fd);
  return count;
}

void Switch::close_fd(int fd, Decision& d) noexcept {
  d.count_close = forget_fd(fd, d.slot);
}

// A vfork() child shares the parent's memory until it execs; what it closes or dup2s there (as
// CPython's subprocess does: dup2, close_range) must not change the parent's table. The vfork
// trampoline leaves a hint in the thread, so getpid() is asked only after a vfork.
bool Switch::in_vfork_child() const noexcept {
  if (!sockshim_vfork_hint) return false;
  if (static_cast<pid_t>(syscall(SYS_getpid)) != owner_pid_.load(std::memory_order_relaxed))
    return true;
  sockshim_vfork_hint = 0;   // the parent, after its vfork returned
  return false;
}

long Switch::settle(const Call& c, FdEntry* e, std::uint32_t bits, stats::CookieSlot* slot,
                    bool count_close, long r) noexcept {
  int* const err = &errno;
  const int real_errno = *err;
  Decision d;
  d.entry = e;
  d.state = bits;
  d.slot = slot;
  d.saved_errno = real_errno;
  d.count_close = count_close;
  *err = after(c, d, r, real_errno);
  return r;
}

void Switch::mark_all_inherited() noexcept {
  owner_pid_.store(static_cast<pid_t>(syscall(SYS_getpid)), std::memory_order_relaxed);
  fds_.for_each_socket([](int, FdEntry& e) {
    e.state.fetch_or(FdState::kInherited, std::memory_order_relaxed);
  });
}

void Switch::listened(FdEntry& e, int fd, std::uint32_t bits) const noexcept {
  // The port (bind to port 0 left it to the kernel) is a fact for rules only, and a getsockname
  // away: without rules it is never asked for (rules cannot appear later in a process).
  if (rule_mask_ && e.local_port.load(std::memory_order_relaxed) == 0)
    e.local_port.store(local_port_of(fd), std::memory_order_relaxed);
  e.state.store(FdState::make(FdKind::kSocket, ConnState::kListening, bits & ~FdState::kConnMask & ~FdState::kKindMask),
                std::memory_order_relaxed);
  forget_rules(e);
  stats::bump(*e.slot.load(std::memory_order_relaxed), stats::kListened);
}

int Switch::after(const Call& c, Decision& d, long r, int e) noexcept {
  switch (c.op) {
    case Op::kSocket: {
      const int type = c.b & kSockTypeMask;
      if (r >= 0) {
        const Cookie ck = make_cookie(c.a, type, kernel_protocol(static_cast<int>(r), c.a, type, c.c));
        stats::add(open_socket(static_cast<int>(r), ck, ConnState::kNone, 0, 0), stats::kOpened);
        if (d.arm_rule >= 0) arm_loss(static_cast<int>(r), fds_.find(static_cast<int>(r)), c.a, d.arm_rule);
        if (d.pace_rule >= 0) pace(static_cast<int>(r), fds_.find(static_cast<int>(r)), d.pace_rule);
      } else {
        stats::add(slot_for(make_cookie(c.a, type, kernel_protocol(-1, c.a, type, c.c))),
                   stats::kOpenFailed);
      }
      break;
    }
    case Op::kSocketpair: {
      const int type = c.b & kSockTypeMask;
      const Cookie ck = make_cookie(c.a, type, kernel_protocol(r == 0 ? c.sv[0] : -1, c.a, type, c.c));
      stats::CookieSlot* slot = slot_for(ck);
      if (r == 0) {
        open_socket(c.sv[0], ck, ConnState::kNone, 0, 0);
        open_socket(c.sv[1], ck, ConnState::kNone, 0, 0);
        stats::add(slot, stats::kOpened, 2);
      } else {
        stats::add(slot, stats::kOpenFailed);
      }
      break;
    }
    case Op::kConnect:
      after_connect(c, d, r, e);
      break;
    case Op::kBind:
      if (r == 0) bound(*d.entry, c.addr, c.addrlen);
      break;
    case Op::kListen:
      if (r == 0)
        listened(*d.entry, c.fd, d.state);
      else
        stats::add(d.slot, stats::kListenFailed);
      break;
    case Op::kAccept:
      if (r >= 0) {
        stats::add(d.slot, stats::kAccepted);
        open_socket(static_cast<int>(r), cookie_of(*d.entry), ConnState::kAccepted,
                    d.entry->local_port.load(std::memory_order_relaxed), 0);
        FdEntry* const accepted = fds_.find(static_cast<int>(r));
        if (d.state & FdState::kArmed) inherit_filter(*d.entry, accepted);
        // The kernel copies the listener's SO_MAX_PACING_RATE too; the recv pacing goes with it.
        if (d.state & FdState::kPaced) set_recv_rate(accepted, d.entry->recv_rate.load(std::memory_order_relaxed));
        if (d.pace_rule >= 0) pace(static_cast<int>(r), accepted, d.pace_rule);
        if (d.arm_rule >= 0) arm_loss(static_cast<int>(r), accepted, cookie_family(cookie_of(*d.entry)), d.arm_rule);
      } else if (!would_block(e)) {
        stats::add(d.slot, stats::kAcceptFailed);
      }
      break;
    case Op::kClose:
      // Linux releases the fd even when close reports EINTR; only other errors are failures.
      if (r == 0 || e == EINTR) {
        if (d.count_close) stats::add(d.slot, stats::kClosed);
      } else {
        stats::add(d.slot, stats::kCloseFailed);
      }
      break;
    case Op::kGetsockopt:
      // An error a `then.so_error` rule left for the program's connect to find.
      if (r == 0 && c.a == SOL_SOCKET && c.b == SO_ERROR && c.optval && d.entry && c.optlen &&
          *c.optlen >= static_cast<socklen_t>(sizeof(int)) &&
          d.entry->so_error.load(std::memory_order_relaxed) != 0) {
        *static_cast<int*>(c.optval) = d.entry->so_error.exchange(0, std::memory_order_relaxed);
        if (FdState{d.state}.conn() == ConnState::kConnecting) resolve_pending(d, false);
        break;
      }
      if (r == 0 && c.a == SOL_SOCKET && c.b == SO_ERROR && c.optval &&
          FdState{d.state}.conn() == ConnState::kConnecting) {
        const int so_error = *static_cast<const int*>(c.optval);
        if (so_error != 0) {
          resolve_pending(d, false);
        } else {
          // SO_ERROR is also 0 while the handshake is still running: ask whether it finished.
          bool connected = false;
          peer_port_of(c.fd, &connected);
          if (connected) resolve_pending(d, true);
        }
      }
      break;
    case Op::kSend: case Op::kWrite: case Op::kSendmmsg:
    case Op::kRecv: case Op::kRead: case Op::kRecvmmsg:
      after_transfer(c, d, r, e);
      if (d.paced && r > 0) charge(*d.entry, static_cast<std::uint64_t>(r));
      break;
    case Op::kDup: case Op::kDup2:
      after_dup(c, d, r);
      break;
    case Op::kShutdown: case Op::kSetsockopt: case Op::kCloseRange: case Op::kGetaddrinfo:
    case Op::kFork:
      break;
  }
  if (capture::on()) capture::after_call(c, r, e, d.corrupt_bits != 0);
  return e;
}

void Switch::resolve_pending(Decision& d, bool connected) noexcept {
  // Only the thread that moves the state out of kConnecting counts, so it is counted once.
  std::uint32_t expected = d.state;
  const std::uint32_t flags = d.state & ~FdState::kConnMask & ~FdState::kKindMask;
  const std::uint32_t next = FdState::make(FdKind::kSocket, connected ? ConnState::kConnected : ConnState::kNone, flags);
  if (d.entry->state.compare_exchange_strong(expected, next, std::memory_order_relaxed))
    stats::add(d.slot, connected ? stats::kConnected : stats::kConnectFailed);
  forget_rules(*d.entry);
  d.state = next;
}

void Switch::after_connect(const Call& c, Decision& d, long r, int e) noexcept {
  const std::uint32_t flags = d.state & ~FdState::kConnMask & ~FdState::kKindMask;
  const bool pending = FdState{d.state}.conn() == ConnState::kConnecting;
  if (r == 0 || (e == EISCONN && pending)) {
    if (pending) {
      resolve_pending(d, true);
    } else {
      d.entry->state.store(FdState::make(FdKind::kSocket, ConnState::kConnected, flags), std::memory_order_relaxed);
      stats::add(d.slot, stats::kConnected);
    }
    d.entry->peer_port.store(port_of(c.addr, c.addrlen), std::memory_order_relaxed);
    forget_rules(*d.entry);
    stamp_connected(*d.entry);
    return;
  }
  if (e == EINPROGRESS || (e == EINTR && !pending)) {
    // EINTR: the kernel goes on connecting in the background, exactly as for EINPROGRESS.
    d.entry->peer_port.store(port_of(c.addr, c.addrlen), std::memory_order_relaxed);
    d.entry->state.store(FdState::make(FdKind::kSocket, ConnState::kConnecting, flags), std::memory_order_relaxed);
    forget_rules(*d.entry);
    stats::add(d.slot, stats::kConnectPending);
    return;
  }
  if (e == EALREADY || e == EINTR) return;   // still pending; nothing new
  if (pending)
    resolve_pending(d, false);
  else
    stats::add(d.slot, stats::kConnectFailed);
}

void Switch::after_transfer(const Call& c, Decision& d, long r, int e) noexcept {
  const bool send = c.op == Op::kSend || c.op == Op::kWrite || c.op == Op::kSendmmsg;
  const bool pending = FdState{d.state}.conn() == ConnState::kConnecting;
  if (r < 0) {
    if (pending && connect_error(e)) resolve_pending(d, false);
    return;
  }
  // A first successful transfer on a pending connect means the handshake completed.
  if (pending) resolve_pending(d, true);
  // Peeked bytes stay queued: the recv that takes them counts them, so count the call only.
  if (!send && (c.flags & MSG_PEEK)) {
    stats::add(d.slot, stats::kRecvCalls);
    return;
  }
  const bool messages = c.op == Op::kSendmmsg || c.op == Op::kRecvmmsg;
  const std::uint64_t bytes = messages ? mmsg_bytes(c.mmsg, r) : static_cast<std::uint64_t>(r);
  if (d.entry && (d.entry->swaps.load(std::memory_order_acquire) != d.swaps || (d.swaps & 1))) {
    count_raced(bytes);
    return;
  }
  stats::add(d.slot, send ? stats::kSendCalls : stats::kRecvCalls);
  if (bytes) stats::add(d.slot, send ? stats::kSendBytes : stats::kRecvBytes, bytes);
  if (bytes && d.entry && track_bytes_) (send ? d.entry->sent_bytes : d.entry->recv_bytes).fetch_add(bytes, std::memory_order_relaxed);
}

void Switch::after_dup(const Call& c, Decision& d, long r) noexcept {
  struct EndSwap {   // the target's swap count goes even again once its entry says what it holds
    FdEntry* t;
    ~EndSwap() { if (t) t->swaps.fetch_add(1, std::memory_order_acq_rel); }
  } end_swap{c.op == Op::kDup2 ? d.target : nullptr};
  if (r < 0) return;   // dup2 failed: the target was not closed after all
  const FdState target{d.target_state};
  if (c.op == Op::kDup2 && target.kind() == FdKind::kSocket) {
    const bool last = !target.has(FdState::kShared) || release_reference(c.a, d.target_id);
    if (last && !target.has(FdState::kInherited)) stats::add(d.slot, stats::kClosed);
  }
  const int nfd = static_cast<int>(r);
  if (!d.entry || FdState{d.state}.kind() != FdKind::kSocket) {
    fds_.clear(nfd);   // whatever the number named before is gone
    return;
  }
  dup_socket(*d.entry, d.state, nfd, share(*d.entry));
}

std::uint64_t Switch::share(FdEntry& e) noexcept {
  // Shared from now on, whether the dup succeeds or not, so that its close gives the reference
  // back (a failed dup leaves it the only one). A CAS, not fetch_or: a close racing this one may
  // have cleared the entry, which must not get the flag (a few tries; it only fails under a race).
  std::uint32_t bits = e.state.load(std::memory_order_relaxed);
  for (int tries = 0; tries < 16 && FdState{bits}.kind() == FdKind::kSocket && !(bits & FdState::kShared); ++tries)
    if (e.state.compare_exchange_weak(bits, bits | FdState::kShared, std::memory_order_relaxed)) break;
  std::uint64_t id = e.sock_id.load(std::memory_order_acquire);
  if (id == 0) {
    // A free group (count 0) becomes this socket's with one reference, its own number's; a few
    // probes only: with that many dup'd sockets open, scanning on close is the lesser cost.
    std::uint64_t fresh = kScanId | next_sock_id_.fetch_add(1, std::memory_order_relaxed);
    for (int probe = 0; probe < 8; ++probe) {
      const std::uint32_t g = dup_cursor_.fetch_add(1, std::memory_order_relaxed) % kDupGroups;
      std::uint32_t free = 0;
      if (dup_refs_[g].compare_exchange_strong(free, 1, std::memory_order_acq_rel)) {
        fresh = g + 1;
        break;
      }
    }
    // Two threads dup'ing the same socket for the first time: one identity wins.
    if (e.sock_id.compare_exchange_strong(id, fresh, std::memory_order_acq_rel)) {
      id = fresh;
    } else if (!(fresh & kScanId)) {
      dup_refs_[fresh - 1].store(0, std::memory_order_release);
    }
  }
  if (!(id & kScanId) && id <= kDupGroups) dup_refs_[id - 1].fetch_add(1, std::memory_order_acq_rel);
  return id;
}

void Switch::unshare(std::uint64_t id, stats::CookieSlot* slot) noexcept {
  if ((id & kScanId) || id == 0 || id > kDupGroups) return;   // scanning needs no undo
  if (dup_refs_[id - 1].fetch_sub(1, std::memory_order_acq_rel) == 1) stats::bump(*slot, stats::kClosed);
}

void Switch::dup_socket(FdEntry& from, std::uint32_t bits, int nfd, std::uint64_t id) noexcept {
  FdEntry* n = fds_.get(nfd);
  if (!n) return;
  const std::uint32_t shared = bits | FdState::kShared;
  n->cookie.store(from.cookie.load(std::memory_order_relaxed), std::memory_order_relaxed);
  n->sock_id.store(id, std::memory_order_relaxed);
  n->slot.store(from.slot.load(std::memory_order_relaxed), std::memory_order_relaxed);
  n->local_port.store(from.local_port.load(std::memory_order_relaxed), std::memory_order_relaxed);
  n->peer_port.store(from.peer_port.load(std::memory_order_relaxed), std::memory_order_relaxed);
  forget_rules(*n);
  if (socket_state_) n->reset_rule_state();   // per-socket counters start afresh on the new fd
  if (bits & (FdState::kArmed | FdState::kPaced)) [[unlikely]] {   // the socket's, whichever number names it
    n->loss_rule.store(from.loss_rule.load(std::memory_order_relaxed), std::memory_order_relaxed);
    n->own_filter_len.store(from.own_filter_len.load(std::memory_order_relaxed), std::memory_order_relaxed);
    n->recv_rate.store(from.recv_rate.load(std::memory_order_relaxed), std::memory_order_relaxed);
    n->recv_due_ns.store(0, std::memory_order_relaxed);   // each number paces its own reads
  }
  n->state.store(shared, std::memory_order_relaxed);   // `from` was marked shared by share()
}

}  // namespace shim
