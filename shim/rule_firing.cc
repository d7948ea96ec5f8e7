#include "shim/rule_firing.h"

#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "shim/actions.h"
#include "shim/capture.h"
#include "shim/debug_log.h"
#include "shim/os.h"
#include "shim/real.h"
#include "shim/sockaddr_text.h"
#include "shim/stats/segment.h"

namespace shim {

namespace {

bool is_send(Op op) noexcept { return op == Op::kSend || op == Op::kWrite || op == Op::kSendmmsg; }

}  // namespace

SocketRuleCount* RuleFiring::socket_count(FdEntry& e, int rule) noexcept {
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
void RuleFiring::fire(const Call& c, Decision& d, int idx) noexcept {
  stats::RuleSlot& rs = seg()->rules[idx];
  const filters::Rule& rule = rules_->table().rules()[static_cast<std::size_t>(idx)];
  const filters::When& w = rule.when;
  SocketRuleCount* sc = w.count == filters::Count::kSocket && d.entry ? socket_count(*d.entry, idx) : nullptr;
  filters::Hit h;
  const std::uint64_t run_hit = rs.hits.fetch_add(1, std::memory_order_relaxed) + 1;
  h.n = sc ? sc->hits.fetch_add(1, std::memory_order_relaxed) + 1 : run_hit;
  h.draw_n = run_hit;   // per-socket counts must not make every socket draw the same numbers
  if (w.from_ms || w.until_ms) h.elapsed_ms = book_->elapsed_ms();
  if (d.entry) {
    // Bytes before this call: sent for a send, received for a recv, both for any other call.
    const std::uint64_t sent = d.entry->sent_bytes.load(std::memory_order_relaxed);
    const std::uint64_t recvd = d.entry->recv_bytes.load(std::memory_order_relaxed);
    const filters::CallType t = d.type;
    h.socket_bytes = t == filters::CallType::kSend ? sent : t == filters::CallType::kRecv ? recvd : sent + recvd;
    if (const std::uint32_t at = d.entry->connected_at.load(std::memory_order_relaxed); at != 0)
      h.connected_ms = static_cast<std::int64_t>(book_->elapsed_ms()) - (at - 1);
  }
  const std::uint32_t rule_no = static_cast<std::uint32_t>(idx);
  if (!w.selects(h, seed_, rule_no)) {
    // Not yet at after_bytes: let exactly the bytes up to it through, so the fault lands on the
    // byte the rule names rather than at whatever call crosses it.
    if (w.after_bytes && d.entry && h.socket_bytes < *w.after_bytes && cookie_type(d.entry->cookie.load(std::memory_order_relaxed)) == SOCK_STREAM &&
        (d.type == filters::CallType::kSend || d.type == filters::CallType::kRecv)) {
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

void RuleFiring::act(const Call& c, Decision& d, const filters::Rule& rule, int idx, std::uint64_t hit,
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
  const bool stream = d.entry && cookie_type(d.entry->cookie.load(std::memory_order_relaxed)) == SOCK_STREAM;
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
        book_->reset(*d.entry, d.state);
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
        // The program moves on past what it believes sent: sendfile's offset with it.
        if (c.fn == Fn::kSendfile) actions::sendfile_advance(c, d.ret);
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
        packets_->pace(c.fd, d.entry, idx);
      break;
    case filters::ActionKind::kInboundLoss:
      // socket() and accept() make their socket in the real call: after() arms it. bind and
      // connect arm theirs now, so a connect's handshake already meets the loss.
      if (c.op == Op::kSocket || c.op == Op::kAccept)
        d.arm_rule = idx;
      else if (d.entry)
        packets_->arm_loss(c.fd, d.entry, cookie_family(d.entry->cookie.load(std::memory_order_relaxed)), idx);
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
  if (debug_) debug::fault(rule.name.c_str(), filters::call_type_name(d.type), c.fd, shown);
}

long RuleFiring::perform(const Call& c, const Decision& d) noexcept {
  if (d.filter_option) return packets_->filter_option(c, d);
  if (d.corrupt_bits && is_send(c.op)) return actions::send_corrupted(c, d.corrupt_bits, d.draw);
  const long r = actions::transfer(c, d.limit);
  if (d.duplicate && r > 0 && c.fn == Fn::kSendfile) {
    // The same bytes again: from where the call read them, with an offset of the copy's own.
    const int e = errno;
    const off64_t start = actions::sendfile_start(c, r);
    const long copy = actions::sendfile_again(c, start, static_cast<std::size_t>(r));
    if (capture::on()) capture::sent_file(c, start, copy);
    errno = e;
  } else if (d.duplicate && r >= 0) {
    const int e = errno;
    const long copy = actions::transfer(c, d.limit);   // its result is not the program's business
    if (capture::on()) capture::after_call(c, copy, errno, false);   // but its bytes went out
    errno = e;
  }
  return r;
}

void RuleFiring::apply_then(const Call& c, Decision& d, long& r, int& e) noexcept {
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
void RuleFiring::log_event(const Call& c, const Decision& d, int rule, std::uint64_t hit, int err) noexcept {
  std::uint64_t number = 0;
  stats::Event& ev = stats::begin_event(*seg(), number);
  ev.t_ns = stats::monotonic_ns() - seg()->header.created_mono_ns;
  ev.pid = static_cast<std::int32_t>(os::getpid());
  ev.tid = static_cast<std::int32_t>(os::gettid());
  ev.fd = c.op == Op::kGetaddrinfo ? -1 : c.fd;
  ev.call = static_cast<std::uint16_t>(d.type);
  ev.rule = static_cast<std::uint16_t>(rule);
  ev.cookie = d.entry ? d.entry->cookie.load(std::memory_order_relaxed) : 0;
  ev.hit = hit;
  const filters::Rule& r = rules_->table().rules()[static_cast<std::size_t>(rule)];
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
    if (os::getpeername(c.fd, reinterpret_cast<sockaddr*>(&ss), &n) == 0)
      format_sockaddr(reinterpret_cast<const sockaddr*>(&ss), n, ev.peer, sizeof ev.peer);
    if (ev.peer[0] == 0 && os::getsockname(c.fd, reinterpret_cast<sockaddr*>(&ss), &(n = sizeof ss)) == 0)
      format_sockaddr(reinterpret_cast<const sockaddr*>(&ss), n, ev.peer, sizeof ev.peer);
  }
  stats::publish_event(ev, number);
}

// An injected failure counts as the failure of that call, plus one fault.
void RuleFiring::count_injected(const Call& c, Decision& d) noexcept {
  stats::add(d.slot, stats::kFaultsInjected);
  switch (c.op) {
    case Op::kConnect: stats::add(d.slot, stats::kConnectFailed); break;
    case Op::kListen: stats::add(d.slot, stats::kListenFailed); break;
    case Op::kAccept: stats::add(d.slot, stats::kAcceptFailed); break;
    case Op::kClose: stats::add(d.slot, stats::kCloseFailed); break;
    default: break;
  }
}

}  // namespace shim
