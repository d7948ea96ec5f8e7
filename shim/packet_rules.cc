#include "shim/packet_rules.h"

#include <cerrno>

#include <algorithm>

#include "bpfvm/compose.h"
#include "shim/actions.h"
#include "shim/debug_log.h"
#include "shim/os.h"
#include "shim/real.h"
#include "shim/stats/segment.h"

namespace shim {

namespace {
constexpr std::uint32_t kPacedSegment = 64 * 1024;
}  // namespace

void PacketRules::arm_loss(int fd, FdEntry* e, int family, int idx) noexcept {
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
    seg()->rules[idx].armed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (r.lifted) {
    set_filter_state(e, 0, 0);
    seg()->rules[idx].lifted.fetch_add(1, std::memory_order_relaxed);
  }
  if (debug_) debug::line(r.lifted ? "inbound_loss: the socket keeps the program's own filter; rule lifted"
                                   : "inbound_loss: the kernel refused the socket filter");
}

void PacketRules::inherit_filter(const FdEntry& listener, FdEntry* accepted) noexcept {
  const int idx = static_cast<int>(listener.loss_rule.load(std::memory_order_relaxed)) - 1;
  if (!accepted || idx < 0 || idx >= static_cast<int>(stats::kMaxRules)) return;
  set_filter_state(accepted, static_cast<std::uint16_t>(idx + 1), listener.own_filter_len.load(std::memory_order_relaxed));
  seg()->rules[idx].armed.fetch_add(1, std::memory_order_relaxed);
}

void PacketRules::recover(int fd, FdEntry& e) noexcept {
  if (!rules_->profile().any()) return;
  const Cookie ck = e.cookie.load(std::memory_order_relaxed);
  const int family = cookie_family(ck);
  if (family != AF_INET && family != AF_INET6) return;
  const auto rules = rules_->table().rules();
  std::uint32_t pacing = 0;   // 0: not asked yet
  for (std::size_t i = 0; i < rules.size() && i < stats::kMaxRules; ++i) {
    const filters::Action& a = rules[i].action;
    if (a.rate != 0 && cookie_type(ck) == SOCK_STREAM && !(e.state.load(std::memory_order_relaxed) & FdState::kPaced)) {
      if (pacing == 0) {
        socklen_t n = sizeof pacing;
        const int saved = errno;
        if (os::getsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &pacing, &n) != 0) pacing = ~0u;
        errno = saved;
      }
      if (pacing == a.rate) set_recv_rate(&e, a.rate);
    }
    if (a.kind == filters::ActionKind::kInboundLoss && !(e.state.load(std::memory_order_relaxed) & FdState::kArmed)) {
      bpfvm::Instruction gate[bpfvm::kMaxComposedLossFilter];
      const std::size_t n = loss_gate(static_cast<int>(i), gate);
      const int own = n ? socket_filter::own_behind(fd, {gate, n}) : -1;
      if (own >= 0) set_filter_state(&e, static_cast<std::uint16_t>(i + 1), static_cast<std::uint16_t>(own));
    }
  }
}

void PacketRules::pace(int fd, FdEntry* e, int idx) noexcept {
  const filters::Table& table = rules_->table();
  if (idx < 0 || static_cast<std::size_t>(idx) >= table.rules().size()) return;
  const std::uint32_t rate = table.rules()[static_cast<std::size_t>(idx)].action.rate;
  if (rate == 0) return;
  // The kernel's TCP pacing caps what the socket sends (setting it also turns pacing on for TCP
  // without the fq qdisc: sk_pacing_status). A 32-bit value is what every kernel takes.
  const int saved = errno;
  const bool sent = os::setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof rate) == 0;
  errno = saved;
  if (!sent && debug_) debug::line("rate: the kernel refused SO_MAX_PACING_RATE");
  set_recv_rate(e, rate);
  seg()->rules[idx].armed.fetch_add(1, std::memory_order_relaxed);
}

void PacketRules::set_recv_rate(FdEntry* e, std::uint32_t rate) noexcept {
  if (!e || rate == 0) return;
  e->recv_rate.store(rate, std::memory_order_relaxed);
  e->recv_due_ns.store(0, std::memory_order_relaxed);
  SocketBook::set_flag(*e, FdState::kPaced, true);
}

void PacketRules::hold_back(const Call& c, Decision& d) noexcept {
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
  if (!(c.flags & MSG_WAITALL) && cookie_type(e.cookie.load(std::memory_order_relaxed)) == SOCK_STREAM) {
    d.custom = true;
    d.limit = std::min<std::uint64_t>(d.limit, std::max({rate / 50, std::min(rate, kPacedSegment), 1u}));
  }
}

void PacketRules::charge(FdEntry& e, std::uint64_t n) noexcept {
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

std::size_t PacketRules::loss_gate(int idx, std::span<bpfvm::Instruction> out) const noexcept {
  const filters::Table& table = rules_->table();
  if (idx < 0 || static_cast<std::size_t>(idx) >= table.rules().size()) return 0;
  const filters::Action& a = table.rules()[static_cast<std::size_t>(idx)].action;
  return a.kind == filters::ActionKind::kInboundLoss ? filters::loss_program(a, out) : 0;
}

void PacketRules::set_filter_state(FdEntry* e, std::uint16_t rule_plus1, std::uint16_t own_len) noexcept {
  if (!e) return;
  const auto record = [&](FdEntry& x) {
    x.loss_rule.store(rule_plus1, std::memory_order_relaxed);
    x.own_filter_len.store(own_len, std::memory_order_relaxed);
    SocketBook::set_flag(x, FdState::kArmed, rule_plus1 != 0);
  };
  record(*e);
  // The filter is the socket's: every number that names it (dup) says the same.
  const std::uint64_t id = e->sock_id.load(std::memory_order_relaxed);
  if (id != 0 && (e->state.load(std::memory_order_relaxed) & FdState::kShared))
    book_->fds().for_each_socket([&](int, FdEntry& other) {
      if (&other != e && other.sock_id.load(std::memory_order_relaxed) == id) record(other);
    });
}

long PacketRules::filter_option(const Call& c, const Decision& d) noexcept {
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
    seg()->rules[idx].lifted.fetch_add(1, std::memory_order_relaxed);
    if (debug_) debug::line("inbound_loss: the program's own socket filter replaced the rule's; rule lifted");
  } else if (r.ret == 0 && c.op == Op::kSetsockopt) {
    set_filter_state(&e, static_cast<std::uint16_t>(idx + 1), r.own_len);
  }
  errno = r.ret == 0 ? d.saved_errno : r.err;
  return r.ret;
}

}  // namespace shim
