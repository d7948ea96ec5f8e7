// Sends and receives in seccomp mode (docs/shim.md, "Sends and receives"): sendto, recvfrom,
// sendmsg, recvmsg and sendfile always, read, write, readv and writev when the run asks for them.
// The supervisor makes the call itself on a duplicate of the program's socket (pidfd_getfd), with
// the program's bytes copied in and out with process_vm_readv/writev (a sendfile's read from its
// file with pread), so it knows what moved and can shorten, duplicate, corrupt or truncate it.
// Never blocking: MSG_DONTWAIT on the duplicate, and a blocking call that would wait is held (a
// Watch) until poll says the socket is ready.
#include "shim/seccomp/supervisor_impl.h"

namespace shim::seccomp {
namespace {

constexpr std::size_t kMaxChunk = 1u << 20;       // stream bytes per pass; a blocking send makes up to 16
constexpr int kMaxChunks = 16;
constexpr std::size_t kMaxDatagram = 16u << 20;   // a larger datagram is the kernel's (passed through)
constexpr std::size_t kMaxCorruptCopy = 64 * 1024;   // as the preload object: one corrupted send moves at most this
constexpr std::size_t kMaxIov = 1024;             // UIO_MAXIOV: the kernel refuses more itself
// x86-64's struct msghdr, as the program's memory holds it.
constexpr std::size_t kMsgName = 0, kMsgNamelen = 8, kMsgIov = 16, kMsgIovlen = 24, kMsgControl = 32,
                      kMsgControllen = 40, kMsgFlags = 48, kMsgSize = 56;
constexpr std::size_t kMaxControl = 64 * 1024;   // more ancillary bytes: the kernel's call
constexpr int kScmPidfd = 4;                     // SCM_PIDFD (Linux 6.5): a pidfd, installed like SCM_RIGHTS

bool read_mem(pid_t tid, void* to, std::size_t len, std::uint64_t from) {
  if (len == 0) return true;
  iovec mine{to, len};
  iovec theirs{reinterpret_cast<void*>(from), len};
  return process_vm_readv(tid, &mine, 1, &theirs, 1, 0) == static_cast<ssize_t>(len);
}

bool write_mem(pid_t tid, std::uint64_t to, const void* from, std::size_t len) {
  if (len == 0) return true;
  iovec mine{const_cast<void*>(from), len};
  iovec theirs{reinterpret_cast<void*>(to), len};
  return process_vm_writev(tid, &mine, 1, &theirs, 1, 0) == static_cast<ssize_t>(len);
}

// The program's buffers covering bytes [off, off + len) of iov.
std::vector<iovec> slice(const std::vector<iovec>& iov, std::uint64_t off, std::uint64_t len) {
  std::vector<iovec> out;
  for (const iovec& v : iov) {
    if (len == 0) break;
    if (off >= v.iov_len) {
      off -= v.iov_len;
      continue;
    }
    const std::uint64_t n = std::min<std::uint64_t>(v.iov_len - off, len);
    out.push_back({static_cast<char*>(v.iov_base) + off, n});
    off = 0;
    len -= n;
  }
  return out;
}

// process_vm_readv/writev take at most IOV_MAX remote pieces per call: in batches.
bool copy_remote(pid_t tid, unsigned char* buf, const std::vector<iovec>& remote, bool write) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < remote.size(); i += kMaxIov) {
    const std::size_t k = std::min(kMaxIov, remote.size() - i);
    std::size_t n = 0;
    for (std::size_t j = i; j < i + k; ++j) n += remote[j].iov_len;
    iovec mine{buf + at, n};
    const ssize_t r = write ? process_vm_writev(tid, &mine, 1, remote.data() + i, k, 0)
                            : process_vm_readv(tid, &mine, 1, remote.data() + i, k, 0);
    if (r != static_cast<ssize_t>(n)) return false;
    at += n;
  }
  return true;
}

// Flips `bits` bits among the first n bytes, where the preload object's actions::bit_position
// puts them: bit k is random64(seed, rule, hit, kDrawCorrupt + k) % (8 n).
void flip(unsigned char* p, std::size_t n, std::uint64_t bits, std::uint64_t seed, int rule, std::uint64_t hit) {
  for (std::uint64_t k = 0; n > 0 && k < bits; ++k) {
    const std::uint64_t bit = filters::random64(seed, static_cast<std::uint32_t>(rule), hit,
                                                static_cast<std::uint32_t>(filters::kDrawCorrupt + k)) %
                              (static_cast<std::uint64_t>(n) * 8);
    p[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
  }
}

}  // namespace

// What the call asks, read from its arguments and the program's memory. kPass: the kernel
// answers it (buffers or lengths it refuses, ancillary data but descriptors, error-queue calls); kGone: the
// caller left while we read. Out-of-band data (MSG_OOB) is moved here as any other: the flag
// goes with the call on our duplicate.
Supervisor::Impl::Parse Supervisor::Impl::parse_transfer(const seccomp_notif& n, Transfer& x) {
  const auto* a = n.data.args;
  x.id = n.id;
  x.tid = static_cast<pid_t>(n.pid);
  std::memcpy(x.args, n.data.args, sizeof x.args);
  x.fd = static_cast<int>(a[0]);
  x.nr = n.data.nr;
  const auto one = [&x](std::uint64_t buf, std::uint64_t len) {
    x.iov.push_back({reinterpret_cast<void*>(buf), static_cast<std::size_t>(len)});
  };
  const auto vector = [&x](std::uint64_t iov, std::uint64_t count) {
    if (count > kMaxIov) return false;
    x.iov.resize(count);
    return read_mem(x.tid, x.iov.data(), count * sizeof(iovec), iov);
  };
  switch (n.data.nr) {
    case SYS_read: x.send = false, one(a[1], a[2]); break;
    case SYS_write: x.send = true, one(a[1], a[2]); break;
    case SYS_readv: x.send = false; if (!vector(a[1], a[2])) return Parse::kPass; break;
    case SYS_writev: x.send = true; if (!vector(a[1], a[2])) return Parse::kPass; break;
    case SYS_sendto:
      x.send = true, one(a[1], a[2]), x.flags = static_cast<int>(a[3]);
      if (a[4] && a[5]) {
        x.to_len = static_cast<socklen_t>(a[5]);
        if (x.to_len > sizeof x.to || !read_mem(x.tid, &x.to, x.to_len, a[4])) return Parse::kPass;
      }
      break;
    case SYS_recvfrom:
      x.send = false, one(a[1], a[2]), x.flags = static_cast<int>(a[3]);
      if (a[4] && a[5]) x.name = a[4], x.name_len = a[5];
      break;
    case SYS_sendmsg: case SYS_recvmsg:
      x.send = n.data.nr == SYS_sendmsg;
      x.flags = static_cast<int>(a[2]);
      if (!parse_msghdr(x, a[1])) return Parse::kPass;
      break;
    case SYS_sendmmsg: case SYS_recvmmsg:
      // The first message stands for the call in the rules' facts (its destination); each
      // message is read again when it is moved (transfer_mmsg).
      x.send = n.data.nr == SYS_sendmmsg;
      x.flags = static_cast<int>(a[3]);
      if (a[2] == 0 || !parse_msghdr(x, a[1])) return Parse::kPass;
      break;
    case SYS_sendfile:
      // sendfile(out_fd, in_fd, offset, count): the bytes are in_fd's (take_file). An offset the
      // kernel would refuse (unreadable: EFAULT; negative: EINVAL) is its to refuse.
      x.send = true;
      x.total = std::min<std::uint64_t>(a[3], SSIZE_MAX);
      x.offset_at = a[2];
      if (x.offset_at && (!read_mem(x.tid, &x.file_start, sizeof x.file_start, x.offset_at) || x.file_start < 0))
        return Parse::kPass;
      break;
    default: return Parse::kPass;
  }
  if (x.flags & MSG_ERRQUEUE) return Parse::kPass;
  if (x.nr != SYS_sendfile && !sum_iov(x)) return Parse::kPass;
  if (!valid(n.id)) return Parse::kGone;   // what we read may be another process's by now
  return Parse::kOk;
}

// The buffers and address of the msghdr at `at` in the program (sendmsg, recvmsg, one message of
// the mmsg calls) into x. False for what the kernel should answer itself: memory it cannot
// read, too many iovecs, ancillary data in the mmsg calls, and a send's ancillary data but
// SCM_RIGHTS (credentials are the program's to pass: ours would show our pid). A receive's
// ancillary data is taken here and given to the program (give_control).
bool Supervisor::Impl::parse_msghdr(Transfer& x, std::uint64_t at) {
  unsigned char m[kMsgSize];
  if (!read_mem(x.tid, m, sizeof m, at)) return false;
  const auto u64 = [&m](std::size_t off) { std::uint64_t v; std::memcpy(&v, m + off, sizeof v); return v; };
  std::uint32_t namelen = 0;
  std::memcpy(&namelen, m + kMsgNamelen, sizeof namelen);
  x.control = x.control_len = 0;
  x.cmsg.clear();
  if (const std::uint64_t clen = u64(kMsgControllen); clen != 0) {
    if (x.nr == SYS_sendmmsg || x.nr == SYS_recvmmsg || clen > kMaxControl) return false;
    x.control = u64(kMsgControl);
    x.control_len = clen;
    if (x.send) {
      x.cmsg.resize(clen);
      if (!read_mem(x.tid, x.cmsg.data(), clen, x.control)) return false;
      msghdr view{};
      view.msg_control = x.cmsg.data();
      view.msg_controllen = clen;
      for (cmsghdr* c = CMSG_FIRSTHDR(&view); c; c = CMSG_NXTHDR(&view, c))
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return false;
    }
  }
  const std::uint64_t count = u64(kMsgIovlen);
  if (count > kMaxIov) return false;
  x.iov.assign(count, iovec{});
  if (!read_mem(x.tid, x.iov.data(), count * sizeof(iovec), u64(kMsgIov))) return false;
  x.to_len = 0;
  x.name = x.name_len = x.msg = 0;
  if (x.send && u64(kMsgName) && namelen) {
    x.to_len = namelen;
    if (x.to_len > sizeof x.to || !read_mem(x.tid, &x.to, x.to_len, u64(kMsgName))) return false;
  }
  if (!x.send) {
    x.msg = at;
    if (u64(kMsgName)) x.name = u64(kMsgName), x.name_len = at + kMsgNamelen;
  }
  return true;
}

bool Supervisor::Impl::sum_iov(Transfer& x) {
  x.total = 0;
  for (const iovec& v : x.iov) {
    if (v.iov_len > SSIZE_MAX - x.total) return false;   // the kernel's EINVAL
    x.total += v.iov_len;
  }
  return true;
}

// A dropped sendmmsg: every message reported sent whole (msg_len), none sent. Returns the count.
std::int64_t Supervisor::Impl::drop_mmsg(Transfer& x, std::uint64_t vec, unsigned vlen) {
  vlen = std::min<unsigned>(vlen, kMaxIov);
  unsigned i = 0;
  for (; i < vlen; ++i) {
    const std::uint64_t at = vec + i * (kMsgSize + 8);
    if (!parse_msghdr(x, at) || !sum_iov(x)) break;
    const auto len = static_cast<std::uint32_t>(x.total);
    if (!write_mem(x.tid, at + kMsgSize, &len, sizeof len)) break;
  }
  return i;
}

// sendmmsg and recvmmsg: one call for the rules and the counters (as the preload object counts
// them), each message moved as sendmsg or recvmsg would move it, msg_len written back, until one
// would block or fails. A blocking call that cannot move its first message at once is the
// kernel's (passed through, uncounted); recvmmsg answers with the messages already queued, as
// with MSG_WAITFORONE, where the kernel would wait for vlen of them.
void Supervisor::Impl::transfer_mmsg(Transfer& x, int dup, std::uint64_t vec, unsigned vlen) {
  constexpr std::uint64_t kMmsgSize = kMsgSize + 8;   // struct mmsghdr: msghdr, msg_len, padding
  vlen = std::min<unsigned>(vlen, kMaxIov);
  std::uint64_t bytes = 0;
  unsigned done = 0;
  int err = 0;
  ++counts.performed;
  for (; done < vlen; ++done) {
    const std::uint64_t at = vec + done * kMmsgSize;
    if (done > 0 && (!parse_msghdr(x, at) || !sum_iov(x) || (!x.stream && x.total > kMaxDatagram))) break;
    x.done = 0;
    std::uint64_t shown = 0;
    long r = x.send ? send_once(x, dup, err) : recv_once(x, dup, err, shown);
    if (r < 0) break;
    if (x.send) shown = static_cast<std::uint64_t>(r);
    const auto len = static_cast<std::uint32_t>(shown);
    if (!write_mem(x.tid, at + kMsgSize, &len, sizeof len)) {
      err = EFAULT;
      break;
    }
    bytes += shown;
    if (!x.send && (x.flags & MSG_WAITFORONE)) x.flags |= MSG_DONTWAIT;
  }
  if (done == 0) {
    if ((err == EAGAIN || err == EWOULDBLOCK) && x.blocking) return pass(x.id);
    if (x.send && err == EPIPE && !(x.flags & MSG_NOSIGNAL)) return pass(x.id);
    return answer(x.id, -1, err);
  }
  if (x.rule >= 0 && x.then.kind == filters::AfterKind::kFail) return answer_moved(x, -1, x.then.err);
  count_transfer(x, bytes);
  answer_moved(x, done, 0);
}

void Supervisor::Impl::answer_moved(const Transfer& x, std::int64_t val, int err) {
  if (reply(x.id, val, err)) return;
  Moved m;
  m.tid = x.tid;
  m.nr = x.nr;
  std::memcpy(m.args, x.args, sizeof m.args);
  m.val = val;
  m.err = err;
  m.until_ns = stats::monotonic_ns() + kSweepNs;
  std::erase_if(moved_unanswered, [&m](const Moved& o) { return o.tid == m.tid; });
  if (moved_unanswered.size() < kMaxWatches) moved_unanswered.push_back(m);
}

// The call again after answer_moved could not answer it: answered now with what moved then.
// Any other call of that thread (or a second's wait) forgets it: the program went on.
bool Supervisor::Impl::answered_before(const seccomp_notif& n) {
  if (moved_unanswered.empty()) return false;
  const std::int64_t now = stats::monotonic_ns();
  for (auto it = moved_unanswered.begin(); it != moved_unanswered.end(); ++it) {
    if (it->tid != static_cast<pid_t>(n.pid)) continue;
    const Moved m = *it;
    moved_unanswered.erase(it);
    if (m.nr != n.data.nr || std::memcmp(m.args, n.data.args, sizeof m.args) != 0 || m.until_ns < now) return false;
    answer(n.id, m.val, m.err);
    return true;
  }
  std::erase_if(moved_unanswered, [now](const Moved& m) { return m.until_ns < now; });
  return false;
}

namespace {

// The socket asks the kernel for its peer's credentials with each message (SO_PASSCRED, or
// SO_PASSPIDFD since Linux 6.5): a send on a unix socket attaches the sender's then.
bool asks_credentials(int fd) {
  constexpr int kSoPassPidfd = 76;
  int on = 0;
  socklen_t len = sizeof on;
  if (getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, &len) != 0 || on) return true;
  on = 0;
  len = sizeof on;
  return getsockopt(fd, SOL_SOCKET, kSoPassPidfd, &on, &len) == 0 && on;
}

// The inode of the unix socket connected to socket `ino` (sock_diag, UNIX_DIAG_PEER: no
// privilege needed); 0 when it has none or the kernel does not say.
ino_t unix_peer(ino_t ino) {
  const int nl = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return 0;
  struct {
    nlmsghdr h;
    unix_diag_req r;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.r.sdiag_family = AF_UNIX;
  req.r.udiag_states = ~0u;
  req.r.udiag_ino = static_cast<std::uint32_t>(ino);
  req.r.udiag_show = UDIAG_SHOW_PEER;
  req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0u;   // INET_DIAG_NOCOOKIE: any socket of that inode
  ino_t peer = 0;
  alignas(nlmsghdr) char buf[1024];
  if (::send(nl, &req, sizeof req, 0) == static_cast<ssize_t>(sizeof req)) {
    const ssize_t got = ::recv(nl, buf, sizeof buf, 0);
    const auto* h = reinterpret_cast<const nlmsghdr*>(buf);
    if (got > 0 && NLMSG_OK(h, static_cast<std::size_t>(got)) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      const auto* m = static_cast<const unix_diag_msg*>(NLMSG_DATA(h));
      int left = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
      for (const auto* a = reinterpret_cast<const rtattr*>(m + 1); RTA_OK(a, left); a = RTA_NEXT(a, left))
        if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(std::uint32_t))
          peer = *static_cast<const std::uint32_t*>(RTA_DATA(a));
    }
  }
  close(nl);
  return peer;
}

}  // namespace

// Whether a unix send made here (on dup, our duplicate of the program's socket k) could show
// its receiver our credentials instead of the program's: the socket or its peer asks for them
// (SO_PASSCRED, SO_PASSPIDFD: systemd's notify socket checks the sender's pid, journald logs
// it), or the peer is nothing the supervisor can look at (a process outside the run, a datagram
// sent to an address). Then the send stays the program's, uncounted. Otherwise the supervisor
// makes it and it is counted, as the preload object counts it.
bool Supervisor::Impl::creds_wanted(const Transfer& x, KnownSocket& k, int dup) {
  if (x.to_len || asks_credentials(dup)) return true;
  if (!k.peer_ino) k.peer_ino = unix_peer(k.ino);
  if (!k.peer_ino) return true;
  bool wanted = true, found = false;
  procs.for_each([&](Proc& q) {
    for (const auto& [fd, other] : q.fds) {
      if (found || other.ino != k.peer_ino) continue;
      const int peer = pidfd_getfd(q.pidfd, fd);
      if (peer < 0) continue;
      if (inode_of(peer) == k.peer_ino) found = true, wanted = asks_credentials(peer);
      close(peer);
    }
  });
  return wanted;
}

void Supervisor::Impl::on_transfer(const seccomp_notif& n, Proc& p) {
  if (answered_before(n)) return;
  const int fd = static_cast<int>(n.data.args[0]);
  const int dup = pidfd_getfd(p.pidfd, fd);
  if (dup < 0) return pass(n.id);   // EBADF and friends: the kernel's answer
  KnownSocket* known = socket_at(p, fd, dup);
  if (!known) {   // a file, a pipe: the kernel's at once
    close(dup);
    return pass(n.id);
  }
  auto x = std::make_shared<Transfer>();
  x->tgid = p.tgid;
  x->cookie = known->cookie;
  x->ino = known->ino;
  const int family = cookie_family(x->cookie);
  x->stream = cookie_type(x->cookie) == SOCK_STREAM;
  const Parse parsed = parse_transfer(n, *x);
  // A unix send made here would carry our credentials, not the program's: it stays the
  // program's (passed through, uncounted) when anyone may look at them (creds_wanted), unless
  // a rule acts on it (decide_transfer).
  const bool unix_send = family == AF_UNIX && x->send;
  if (parsed != Parse::kOk || (!x->stream && x->total > kMaxDatagram)) {
    close(dup);
    return parsed == Parse::kGone ? void(++counts.gone) : pass(n.id);
  }
  if (!x->cmsg.empty() && !take_rights(*x, p.pidfd)) {
    close(dup);
    return pass(n.id);   // a number that is no descriptor: the kernel's EBADF
  }
  if (n.data.nr == SYS_sendfile && !take_file(*x, p.pidfd, static_cast<int>(n.data.args[1]))) {
    close(dup);
    return pass(n.id);   // a pipe, a socket, no descriptor...: the kernel's, uncounted
  }
  const int fl = fcntl(dup, F_GETFL);
  // A receive of out-of-band data never waits in the kernel (EINVAL or EAGAIN when there is
  // none): it is never held either.
  x->blocking = fl >= 0 && !(fl & O_NONBLOCK) && !(x->flags & MSG_DONTWAIT) && !(!x->send && (x->flags & MSG_OOB));
  if (decide_transfer(n, p, *x, *known, dup)) {
    close(dup);
    return;
  }
  if (unix_send && x->rule < 0 && x->limit == UINT64_MAX && creds_wanted(*x, *known, dup)) {
    close(dup);
    return pass(n.id);
  }
  if (n.data.nr == SYS_sendmmsg || n.data.nr == SYS_recvmmsg) {
    // As the preload object: short, corrupt and the `then`s that change bytes leave the message
    // vectors alone.
    x->limit = UINT64_MAX;
    x->corrupt_bits = 0;
    if (x->then.kind == filters::AfterKind::kTruncate || x->then.kind == filters::AfterKind::kCorrupt) x->then = {};
    transfer_mmsg(*x, dup, n.data.args[1], static_cast<unsigned>(n.data.args[2]));
    close(dup);
    return;
  }
  if (run_transfer(x, dup, false)) close(dup);
}

// The rules on send or recv, as the preload object applies them. True when the call is answered
// (or put aside for a delay) already.
bool Supervisor::Impl::decide_transfer(const seccomp_notif& n, Proc& p, Transfer& x, KnownSocket& known, int dup) {
  const filters::CallType t = x.send ? filters::CallType::kSend : filters::CallType::kRecv;
  int idx = replay_rule;
  std::uint64_t hit = replay_hit;
  Local l;
  if (idx < 0) {
    if (!table || !table->has_rules_for(t)) return false;
    describe(dup, known, t, l);
    filters::SocketFacts& f = l.facts;
    if (x.to_len) {   // a send to an address: the rules see that peer, as for connect
      f.peer_port = f.service_port = port_of(x.to);
      to_address(reinterpret_cast<const sockaddr*>(&x.to), x.to_len, f.peer);
      if (table->needs(t) & filters::kNeedPath) path_fact(x.to, x.to_len, l);
      l.shown = x.to;
      l.shown_len = x.to_len;
    }
    idx = decide(t, f, &hit, &known, x.tid, x.stream ? &x.limit : nullptr);
    if (idx < 0) return false;
    log_event(n, p.tgid, t, idx, hit, x.cookie, injected_errno(idx), l.shown_len ? &l.shown : nullptr, l.shown_len);
    if (const std::int64_t ms = delay_ms(idx, hit); ms > 0 && delayed.size() < kMaxDelayed) {
      delay(n, idx, ms, hit);
      return true;
    }
  }
  const filters::Rule& r = table->rules()[static_cast<std::size_t>(idx)];
  const filters::Action& a = r.action;
  const auto fault = [&](std::int64_t val, int err) {
    stats::add(slot(x.cookie), stats::kFaultsInjected);
    ++counts.injected;
    answer(n.id, val, err);
    return true;
  };
  if (const int err = injected_errno(idx)) return fault(-1, err);
  switch (a.kind) {
    case filters::ActionKind::kReset: {
      // connect(AF_UNSPEC) drops a TCP connection with a RST (tcp_disconnect) and leaves the
      // socket open and unconnected: on our duplicate it is the program's socket.
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      ::connect(dup, &unspec, sizeof unspec);
      known.role = filters::Role::kUnknown;
      return fault(-1, ECONNRESET);
    }
    case filters::ActionKind::kDrop:
      if (n.data.nr == SYS_sendmmsg) return fault(drop_mmsg(x, n.data.args[1], static_cast<unsigned>(n.data.args[2])), 0);
      // The program goes on past what it believes sent: a sendfile's offset with it, as with the
      // preload object.
      if (x.file) file_moved(x, x.total);
      return fault(static_cast<std::int64_t>(x.total), 0);   // reported sent, never sent
    case filters::ActionKind::kShort:
      if (x.stream) x.limit = std::min<std::uint64_t>(x.limit, a.count);   // a datagram would lose its tail
      break;
    case filters::ActionKind::kDuplicate:
      x.duplicate = x.send;
      break;
    case filters::ActionKind::kCorrupt:
      if (x.send) x.corrupt_bits = a.count;
      break;
    default:
      break;
  }
  x.rule = idx;
  x.hit = hit;
  x.then = r.then;
  return false;
}

long Supervisor::Impl::send_once(Transfer& x, int dup, int& err) {
  std::uint64_t want = std::min(x.total, x.limit);
  if (x.corrupt_bits) want = std::min<std::uint64_t>(want, kMaxCorruptCopy);
  std::size_t n = x.stream ? std::min<std::uint64_t>(want - x.done, kMaxChunk) : want;
  io_buf.resize(std::max<std::size_t>(n, 1));
  if (x.file) {
    // sendfile: the bytes where the kernel would read them. At the file's end nothing is sent
    // (not even an empty datagram) and the call is over: 0, or what it sent before.
    const ssize_t got = n ? ::pread(x.file->fds[0], io_buf.data(), n, x.file_start + static_cast<std::int64_t>(x.done)) : 0;
    if (got < 0) {
      err = errno;
      return -1;
    }
    if (got == 0) {
      x.total = x.done;
      return 0;
    }
    n = static_cast<std::size_t>(got);
  } else if (!copy_remote(x.tid, io_buf.data(), slice(x.iov, x.done, n), false)) {
    err = EFAULT;
    return -1;
  }
  if (x.corrupt_bits) flip(io_buf.data(), n, x.corrupt_bits, seg.header.seed, x.rule, x.hit);
  iovec one{io_buf.data(), n};
  msghdr m{};
  m.msg_iov = &one;
  m.msg_iovlen = 1;
  if (x.to_len) m.msg_name = &x.to, m.msg_namelen = x.to_len;
  if (!x.cmsg.empty()) m.msg_control = x.cmsg.data(), m.msg_controllen = x.cmsg.size();
  const int flags = x.flags | MSG_DONTWAIT | MSG_NOSIGNAL;
  const long r = ::sendmsg(dup, &m, flags);
  err = errno;
  if (r >= 0) x.cmsg.clear();   // the descriptors went with these bytes, not with the rest
  if (r > 0 && x.file) file_moved(x, x.done + static_cast<std::uint64_t>(r));
  if (r >= 0 && x.duplicate) ::sendmsg(dup, &m, flags);   // the copy's result is not the program's
  return r;
}

// sendfile's in_fd as our duplicate (the same open file, so the same position) in x.file, when
// the call's bytes can be read from it with pread where the kernel would read them: a regular
// file open for reading, not O_DIRECT (whose reads must be aligned). False for anything else (a
// pipe, a socket, a device, no descriptor): the kernel's call. Without an offset, the call reads
// from the file's position.
bool Supervisor::Impl::take_file(Transfer& x, int pidfd, int in_fd) {
  const int fd = pidfd_getfd(pidfd, in_fd);
  if (fd < 0) return false;
  x.file = std::make_shared<OwnedFds>();
  x.file->fds.push_back(fd);
  struct stat st {};
  const int fl = fcntl(fd, F_GETFL);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fl < 0 || (fl & O_ACCMODE) == O_WRONLY || (fl & (O_PATH | O_DIRECT)))
    return false;
  if (x.offset_at) return true;
  const off_t at = lseek(fd, 0, SEEK_CUR);
  x.file_start = at;
  return at >= 0;
}

// A sendfile sent `sent` bytes in all: the program's offset (or the file's position) moves on
// by them, as the kernel's moves while it sends, so every way the call ends finds it right.
void Supervisor::Impl::file_moved(const Transfer& x, std::uint64_t sent) {
  const std::int64_t at = x.file_start + static_cast<std::int64_t>(sent);
  if (x.offset_at)
    write_mem(x.tid, x.offset_at, &at, sizeof at);
  else
    lseek(x.file->fds[0], at, SEEK_SET);
}

// The descriptors a sendmsg passes (SCM_RIGHTS, the program's numbers) become our duplicates
// of them in x.cmsg, owned by x.rights. False when one is no descriptor of the program.
bool Supervisor::Impl::take_rights(Transfer& x, int pidfd) {
  x.rights = std::make_shared<OwnedFds>();
  msghdr view{};
  view.msg_control = x.cmsg.data();
  view.msg_controllen = x.cmsg.size();
  for (cmsghdr* c = CMSG_FIRSTHDR(&view); c; c = CMSG_NXTHDR(&view, c)) {
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    auto* data = reinterpret_cast<unsigned char*>(CMSG_DATA(c));
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, data + i * sizeof fd, sizeof fd);
      const int mine = pidfd_getfd(pidfd, fd);
      if (mine < 0) return false;
      x.rights->fds.push_back(mine);
      std::memcpy(data + i * sizeof mine, &mine, sizeof mine);
    }
  }
  return true;
}

// A receive's ancillary data (m: what our recvmsg got) to the program: the descriptors it
// brought (SCM_RIGHTS, SCM_PIDFD) installed there with ADDFD (O_CLOEXEC for MSG_CMSG_CLOEXEC)
// and their numbers written in place of ours; everything else (SCM_CREDENTIALS are the
// sender's, timestamps) as received; then msg_controllen. A descriptor the program has no room
// for ends the control data there with MSG_CTRUNC, as the kernel's scm_detach_fds does.
void Supervisor::Impl::give_control(Transfer& x, msghdr& m) {
  std::size_t used = m.msg_controllen;
  const bool cloexec = x.flags & MSG_CMSG_CLOEXEC;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || (c->cmsg_type != SCM_RIGHTS && c->cmsg_type != kScmPidfd)) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    auto* data = reinterpret_cast<unsigned char*>(CMSG_DATA(c));
    std::size_t given = 0;
    for (std::size_t i = 0; i < count; ++i) {
      int mine = -1;
      std::memcpy(&mine, data + i * sizeof mine, sizeof mine);
      const int theirs = given == i ? add_fd(x.id, mine, cloexec, false) : -1;
      close(mine);
      if (theirs < 0) continue;
      std::memcpy(data + given * sizeof theirs, &theirs, sizeof theirs);
      ++given;
    }
    if (given < count) {
      c->cmsg_len = CMSG_LEN(given * sizeof(int));
      used = static_cast<std::size_t>(reinterpret_cast<unsigned char*>(c) - static_cast<unsigned char*>(m.msg_control)) +
             c->cmsg_len;
      m.msg_flags |= MSG_CTRUNC;
      // Later messages' descriptors are ours only: closed, never given.
      for (cmsghdr* d = CMSG_NXTHDR(&m, c); d; d = CMSG_NXTHDR(&m, d)) {
        if (d->cmsg_level != SOL_SOCKET || (d->cmsg_type != SCM_RIGHTS && d->cmsg_type != kScmPidfd)) continue;
        const std::size_t more = (d->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < more; ++i) {
          int mine = -1;
          std::memcpy(&mine, reinterpret_cast<unsigned char*>(CMSG_DATA(d)) + i * sizeof mine, sizeof mine);
          close(mine);
        }
      }
      break;
    }
  }
  write_mem(x.tid, x.control, m.msg_control, used);
  const std::uint64_t len = used;
  write_mem(x.tid, x.msg + kMsgControllen, &len, sizeof len);
  x.control_len = 0;   // a later pass of the same call (MSG_WAITALL) brings none
}

long Supervisor::Impl::recv_once(Transfer& x, int dup, int& err, std::uint64_t& shown) {
  const std::uint64_t want = std::min(x.total, x.limit) - x.done;
  const std::size_t n = x.stream ? std::min<std::uint64_t>(want, kMaxChunk) : x.total;
  io_buf.resize(std::max<std::size_t>(n, 1));
  sockaddr_storage from{};
  iovec one{io_buf.data(), n};
  msghdr m{};
  m.msg_name = &from;
  m.msg_namelen = sizeof from;
  m.msg_iov = &one;
  m.msg_iovlen = 1;
  std::vector<unsigned char> control(x.control_len);
  if (x.control_len) m.msg_control = control.data(), m.msg_controllen = control.size();
  // Our copies of descriptors it receives close on exec: only the program's matter.
  const long r = ::recvmsg(dup, &m, (x.flags & ~MSG_WAITALL) | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  err = errno;
  if (r < 0) return r;
  if (x.control_len) give_control(x, m);
  std::uint64_t got = std::min<std::uint64_t>(static_cast<std::uint64_t>(r), n);   // MSG_TRUNC: r may be more
  // `then` on what this call received: truncate loses the rest, corrupt flips bits in it.
  if (x.then.kind == filters::AfterKind::kTruncate) got = std::min(got, x.then.count);
  if (x.then.kind == filters::AfterKind::kCorrupt) flip(io_buf.data(), got, x.then.count, seg.header.seed, x.rule, x.hit);
  // MSG_TRUNC on a stream discards the bytes without copying them: nothing to write.
  const bool copy = !(x.stream && (x.flags & MSG_TRUNC));
  if (copy && !copy_remote(x.tid, io_buf.data(), slice(x.iov, x.done, got), true)) {
    err = EFAULT;   // unmapped meanwhile: the bytes are lost, as the kernel's copy would fail
    return -1;
  }
  shown = x.then.kind == filters::AfterKind::kTruncate ? got : (x.stream ? got : static_cast<std::uint64_t>(r));
  if (x.name && x.name_len && m.msg_namelen > 0) copy_peer(AcceptCall{x.id, x.tid, x.name, x.name_len, 0}, from, m.msg_namelen);
  if (x.msg) {
    // The kernel reports MSG_CMSG_CLOEXEC back when asked: only the program's own asking shows.
    const int mflags = (x.flags & MSG_CMSG_CLOEXEC) ? m.msg_flags : m.msg_flags & ~MSG_CMSG_CLOEXEC;
    write_mem(x.tid, x.msg + kMsgFlags, &mflags, sizeof mflags);
  }
  return r;
}

// Counted as the preload object counts a transfer: a call and its bytes when it moved any, a
// peek only as a call (the receive that takes the bytes counts them).
void Supervisor::Impl::count_transfer(const Transfer& x, std::uint64_t bytes) {
  stats::CookieSlot* s = slot(x.cookie);
  const bool peek = !x.send && (x.flags & MSG_PEEK);
  stats::add(s, x.send ? stats::kSendCalls : stats::kRecvCalls);
  if (peek || bytes == 0) return;
  stats::add(s, x.send ? stats::kSendBytes : stats::kRecvBytes, bytes);
  if (KnownSocket* k = known_of(x.tgid, x.fd, x.ino)) (x.send ? k->sent : k->recvd) += bytes;
}

bool Supervisor::Impl::run_transfer(const std::shared_ptr<Transfer>& xp, int dup, bool held) {
  Transfer& x = *xp;
  ++counts.performed;
  long r = -1;
  int err = 0;
  std::uint64_t shown = 0;
  if (x.send) {
    // A blocking stream send moves everything it can now, a chunk at a time. What the socket
    // cannot take yet is waited for (held, with what was sent so far), as the kernel's blocking
    // send waits, when the program's wait is killable only: then a signal ends it here with the
    // count sent (interrupt_signalled), as from the kernel. Without that (an older kernel) a
    // signal could end it unanswerable and its restart would send the bytes again: the program
    // gets the short count instead.
    std::uint64_t want = std::min(x.total, x.limit);
    if (x.corrupt_bits) want = std::min<std::uint64_t>(want, kMaxCorruptCopy);
    for (int i = 0; i < kMaxChunks; ++i) {
      r = send_once(x, dup, err);
      if (r < 0) break;
      x.done += static_cast<std::uint64_t>(r);
      if (!x.stream || !x.blocking || x.corrupt_bits || x.done >= want || r == 0) break;
    }
    want = std::min(want, x.total);   // a sendfile whose file ended sent all there is
    const bool rest = x.stream && x.blocking && !x.corrupt_bits && x.done > 0 && x.done < want;
    if (rest && killable && (r >= 0 || err == EAGAIN || err == EWOULDBLOCK)) {
      r = -1;
      err = EAGAIN;   // held below
    } else if (x.done > 0 && (r >= 0 || err == EAGAIN || err == EWOULDBLOCK)) {
      r = static_cast<long>(x.done);
      shown = x.done;
    } else if (r >= 0) {
      shown = 0;
    }
  } else {
    r = recv_once(x, dup, err, shown);
    // MSG_WAITALL on a blocking stream: the rest of what it asks is waited for (held below).
    if (r > 0 && x.stream && x.blocking && (x.flags & MSG_WAITALL) && !(x.flags & MSG_PEEK) &&
        x.then.kind == filters::AfterKind::kNone) {
      x.done += shown;
      if (x.done < std::min(x.total, x.limit)) {
        r = -1;
        err = EAGAIN;
      } else {
        shown = x.done;
        r = static_cast<long>(x.done);
      }
    } else if (r >= 0 && x.done) {
      shown += x.done;   // the end of a held MSG_WAITALL receive: its earlier parts count too
      r = static_cast<long>(shown);
    }
  }
  if (r < 0 && (err == EAGAIN || err == EWOULDBLOCK) && x.blocking) {
    if (held) return false;   // still not ready (another thread was first): the watch goes on
    if (watches.size() >= kMaxWatches) {
      pass(x.id);   // too many held calls to follow: this one waits in the kernel, uncounted
      return true;
    }
    Watch w;
    w.kind = Watch::Kind::kTransfer;
    w.dup = dup;
    w.tgid = x.tgid;
    w.fd = x.fd;
    w.cookie = x.cookie;
    w.held = true;
    w.id = x.id;
    w.ino = x.ino;
    w.deadline_ns = deadline(dup, x.send ? SO_SNDTIMEO : SO_RCVTIMEO);
    w.xfer = xp;
    add_watch(std::move(w));
    return false;
  }
  // An error after part was moved (a held send, or MSG_WAITALL): the part, as from the kernel.
  if (r < 0 && x.done > 0) r = static_cast<long>(x.done), shown = x.done;
  if (r < 0) {
    // A send on a socket shut down for writing: the kernel's own call raises the SIGPIPE the
    // program asked for (no MSG_NOSIGNAL) along with EPIPE.
    if (x.send && err == EPIPE && !(x.flags & MSG_NOSIGNAL)) pass(x.id);
    else answer(x.id, -1, err);
    return true;
  }
  if (x.rule >= 0 && x.then.kind == filters::AfterKind::kFail) {
    answer_moved(x, -1, x.then.err);   // the bytes moved; the program is told it failed
    return true;
  }
  count_transfer(x, shown);
  answer_moved(x, static_cast<std::int64_t>(shown), 0);
  return true;
}

}  // namespace shim::seccomp
