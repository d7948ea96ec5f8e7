#include "shim/seccomp/supervisor_impl.h"

#include <dirent.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>

#include <thread>

namespace shim::seccomp {

// socket(family, type, protocol): made here and given to the program with ADDFD_FLAG_SEND, which
// installs it and answers the call with its number in one step. So the fd number and the
// kernel's protocol are known, and the cookie is the preload object's. A process in another
// network namespace than ours makes its own socket (ours would be in the wrong one), uncounted.
void Supervisor::Impl::on_socket(const seccomp_notif& n, Proc& p) {
  NewSocket ns;
  if (!decide_socket(n, p, ns)) return;
  const int family = ns.facts.family, type = ns.facts.type, type_flags = ns.type_flags;
  Cookie cookie = ns.cookie;
  const pid_t tgid = p.tgid;
  int s = -1, e = 0, fd = -1;
  ino_t ino = 0;
  {
    // Made and installed without mu: nothing here is shared. The program may use the new fd
    // (another thread's call) before the entry below is made; that call's socket_at makes it.
    Unlocked u;
    s = ::socket(family, type_flags | SOCK_CLOEXEC, static_cast<int>(n.data.args[2]));
    e = errno;
    if (s >= 0) {
      int kernel_protocol = 0;
      socklen_t len = sizeof kernel_protocol;
      if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &kernel_protocol, &len) == 0)
        cookie = make_cookie(family, type, kernel_protocol);
      ino = inode_of(s);
      fd = add_fd(n.id, s, type_flags & SOCK_CLOEXEC, true);
      e = errno;
      close(s);
    }
  }
  ++counts.performed;
  if (s < 0) {
    stats::add(slot(cookie), stats::kOpenFailed);
    return answer(n.id, -1, e);
  }
  if (fd < 0) {
    // ENOENT: the caller is gone or was interrupted, and gets nothing. Else (EMFILE at its
    // limit) the call is still waiting: it fails as the kernel would have failed it.
    if (e == ENOENT) {
      ++counts.gone;
    } else {
      stats::add(slot(cookie), stats::kOpenFailed);
      answer(n.id, -1, e);
    }
    return;
  }
  stats::add(slot(cookie), stats::kOpened);
  if (Proc* q = procs.find(tgid)) {
    auto [k, made] = q->fds.try_emplace(fd, KnownSocket{cookie, ino});
    if (!made && k->second.ino != ino) k->second = KnownSocket{cookie, ino};
  }
}

bool Supervisor::Impl::decide_socket(const seccomp_notif& n, Proc& p, NewSocket& out) {
  out.type_flags = static_cast<int>(n.data.args[1]);
  const int family = static_cast<int>(n.data.args[0]);
  const int type = out.type_flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  const int protocol = normal_protocol(family, type, static_cast<int>(n.data.args[2]));
  ThreadBufs& b = bufs();
  const bool same = b.netns_checked ? b.netns_same : same_netns(static_cast<pid_t>(n.pid));
  b.netns_checked = false;
  if (!same) {
    pass(n.id);
    return false;
  }
  out.cookie = make_cookie(family, type, protocol);
  out.facts.family = family;
  out.facts.type = type;
  out.facts.protocol = protocol;
  return !injected(n, p.tgid, filters::CallType::kSocket, out.facts, out.cookie, stats::kOpenFailed, nullptr);
}

bool Supervisor::Impl::same_netns(pid_t tid) {
  struct stat ns {};
  const std::string ns_path = "/proc/" + std::to_string(tid) + "/ns/net";
  return stat(ns_path.c_str(), &ns) == 0 && ns.st_ino == netns;
}

// Installs our fd in the program (SECCOMP_IOCTL_NOTIF_ADDFD): its number there, or -1 with
// errno (ENOENT: the caller is gone or was interrupted). send: that also answers the call with
// the number, in one step.
int Supervisor::Impl::add_fd(std::uint64_t id, int fd, bool cloexec, bool send) {
  seccomp_notif_addfd add{};
  add.id = id;
  add.flags = send ? SECCOMP_ADDFD_FLAG_SEND : 0;
  add.srcfd = static_cast<std::uint32_t>(fd);
  add.newfd_flags = cloexec ? O_CLOEXEC : 0;
  int got = -1;
  // EINTR: a signal `sockshim run` forwards; the call must not be left unanswered for it.
  for (int i = 0; i < 8 && (got = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add)) < 0 && errno == EINTR; ++i) {
  }
  return got;
}

// The sockaddr a connect or bind names, read from the program's memory (process_vm_readv) and
// trusted only after SECCOMP_IOCTL_NOTIF_ID_VALID says the call still waits: the thread may have
// been killed and its number reused by another process meanwhile. kPass: let the kernel answer
// (a length it refuses, memory it faults on).
Supervisor::Impl::Read Supervisor::Impl::read_sockaddr(const seccomp_notif& n, std::uint64_t addr, socklen_t len,
                                                       sockaddr_storage& ss) {
  if (len < sizeof(sa_family_t) || len > sizeof ss) return Read::kPass;   // the kernel's EINVAL
  iovec local{&ss, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  if (process_vm_readv(static_cast<pid_t>(n.pid), &local, 1, &remote, 1, 0) != static_cast<ssize_t>(len))
    return Read::kPass;
  if (!valid(n.id)) return Read::kGone;
  return Read::kOk;
}

// socketpair(family, type, protocol, sv): made here, both ends installed with ADDFD (without
// FLAG_SEND: the call's answer is 0, not an fd), their numbers written to sv, then answered 0.
// Counted as the preload object counts it: 2 opened (or open_failed) under the cookie of the
// kernel's protocol; their closes count like any socket the supervisor made.
void Supervisor::Impl::on_socketpair(const seccomp_notif& n, Proc& p) {
  NewSocket ns;
  if (!decide_socket(n, p, ns)) return;
  const int family = ns.facts.family, type = ns.facts.type, type_flags = ns.type_flags;
  const int protocol = static_cast<int>(n.data.args[2]);
  const std::uint64_t sv = n.data.args[3];
  Cookie cookie = ns.cookie;
  // sv must take the numbers before anything is installed: the kernel copies them out before it
  // installs its fds, so a bad pointer leaves the program none, and ADDFD cannot be taken back.
  // Reading the two ints and writing them back unchanged proves both ways.
  int old[2] = {-1, -1};
  iovec mine{old, sizeof old};
  iovec theirs{reinterpret_cast<void*>(sv), sizeof old};
  const auto tid = static_cast<pid_t>(n.pid);
  if (process_vm_readv(tid, &mine, 1, &theirs, 1, 0) != static_cast<ssize_t>(sizeof old) ||
      process_vm_writev(tid, &mine, 1, &theirs, 1, 0) != static_cast<ssize_t>(sizeof old)) {
    if (!valid(n.id)) return void(++counts.gone);
    stats::add(slot(cookie), stats::kOpenFailed);
    return answer(n.id, -1, EFAULT);
  }
  int s[2] = {-1, -1};
  ++counts.performed;
  if (::socketpair(family, type_flags | SOCK_CLOEXEC, protocol, s) != 0) {
    const int e = errno;
    stats::add(slot(cookie), stats::kOpenFailed);
    return answer(n.id, -1, e);
  }
  int kernel_protocol = 0;
  socklen_t len = sizeof kernel_protocol;
  if (getsockopt(s[0], SOL_SOCKET, SO_PROTOCOL, &kernel_protocol, &len) == 0) cookie = make_cookie(family, type, kernel_protocol);
  const ino_t ino[2] = {inode_of(s[0]), inode_of(s[1])};
  int fds[2] = {-1, -1};
  int e = 0;
  for (int i = 0; i < 2 && e == 0; ++i)
    if ((fds[i] = add_fd(n.id, s[i], type_flags & SOCK_CLOEXEC, false)) < 0) e = errno;
  close(s[0]);
  close(s[1]);
  // A failure after the first was installed (EMFILE at the program's limit, or a signal in
  // between: ENOENT) leaves that one open in the program, unknown to it and not counted: the
  // kernel reserves both numbers first, ADDFD installs one at a time and nothing here can close
  // a program's fd.
  if (e == ENOENT) return void(++counts.gone);
  if (e != 0) {
    stats::add(slot(cookie), stats::kOpenFailed);
    return answer(n.id, -1, e);
  }
  iovec numbers{fds, sizeof fds};
  if (process_vm_writev(tid, &numbers, 1, &theirs, 1, 0) != static_cast<ssize_t>(sizeof fds)) {
    stats::add(slot(cookie), stats::kOpenFailed);
    return answer(n.id, -1, EFAULT);   // unmapped meanwhile by another thread: the pair leaks there
  }
  p.fds[fds[0]] = KnownSocket{cookie, ino[0]};
  p.fds[fds[1]] = KnownSocket{cookie, ino[1]};
  if (family == AF_UNIX) p.fds[fds[0]].peer_ino = ino[1], p.fds[fds[1]].peer_ino = ino[0];
  stats::add(slot(cookie), stats::kOpened);
  stats::add(slot(cookie), stats::kOpened);
  answer(n.id, 0, 0);
}

// bind(fd, addr, len), notified only when a rule is on bind: nothing is counted for it but the
// rule's hits and fault, as in the preload object. An inet bind runs here on a duplicate with
// exactly the bytes the rules saw (with the supervisor's privileges, as socket() does: a port
// below 1024 needs them here). Any other family is passed through: a unix path is resolved in
// the program's working directory and mount namespace, with its umask.
void Supervisor::Impl::on_bind(const seccomp_notif& n, Proc& p) {
  sockaddr_storage ss{};
  const auto len = static_cast<socklen_t>(n.data.args[2]);
  if (const Read r = read_sockaddr(n, n.data.args[1], len, ss); r != Read::kOk)
    return r == Read::kGone ? void(++counts.gone) : pass(n.id);
  Local l;
  if (!local_socket(n, p, filters::CallType::kBind, l)) return pass(n.id);
  l.facts.local_port = l.facts.service_port = port_of(ss);
  to_address(reinterpret_cast<const sockaddr*>(&ss), len, l.facts.local);
  if (table && (table->needs(filters::CallType::kBind) & filters::kNeedPath)) path_fact(ss, len, l);   // the path being bound
  if (injected(n, p.tgid, filters::CallType::kBind, l.facts, l.cookie, kNoCounter, l.known, &ss, len)) {
    close(l.dup);
    return;
  }
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
    close(l.dup);
    return pass(n.id);
  }
  const int r = ::bind(l.dup, reinterpret_cast<const sockaddr*>(&ss), len);
  const int e = errno;
  if (r == 0) l.known->local_port = own_port(l.dup);   // port 0 asked: the kernel's choice
  close(l.dup);
  ++counts.performed;
  answer(n.id, 0, r == 0 ? 0 : e);
}

// shutdown, getsockopt, setsockopt, notified only when a rule is on their call type: the rule
// decides (a fail, eagain or eintr answers without the call running), then CONTINUE, so the
// call is the kernel's own: nothing is counted for them, as in the preload object, and the
// option bytes never need copying. The socket options' level and name are matched on.
void Supervisor::Impl::on_other(const seccomp_notif& n, Proc& p, filters::CallType t) {
  Local l;
  if (!local_socket(n, p, t, l)) return pass(n.id);
  if (t == filters::CallType::kGetsockopt || t == filters::CallType::kSetsockopt) {
    l.facts.level = static_cast<int>(n.data.args[1]);
    l.facts.option = static_cast<int>(n.data.args[2]);
  }
  const bool done =
      injected(n, p.tgid, t, l.facts, l.cookie, kNoCounter, l.known, l.shown_len ? &l.shown : nullptr, l.shown_len);
  close(l.dup);
  if (!done) pass(n.id);
}

// The socket at the program's fd (dup is our duplicate of it): the entry we keep, or a new one
// for a socket we did not see made (socketpair, inherited across exec); nullptr for no socket.
KnownSocket* Supervisor::Impl::socket_at(Proc& p, int fd, int dup) {
  const ino_t ino = inode_of(dup);
  if (ino == 0) return nullptr;
  auto known = p.fds.find(fd);
  if (known != p.fds.end() && known->second.ino == ino) return &known->second;
  int family = 0, type = 0, protocol = 0;
  socklen_t l = sizeof(int);
  getsockopt(dup, SOL_SOCKET, SO_DOMAIN, &family, &l);
  getsockopt(dup, SOL_SOCKET, SO_TYPE, &type, &(l = sizeof(int)));
  getsockopt(dup, SOL_SOCKET, SO_PROTOCOL, &protocol, &(l = sizeof(int)));
  KnownSocket& k = p.fds.insert_or_assign(fd, KnownSocket{make_cookie(family, type, protocol), ino}).first->second;
  k.local_port = own_port(dup);   // as the preload object classifies a socket it did not see made
  return &k;
}

// connect(fd, addr, len): the address is read from the program's memory (process_vm_readv) and
// used only after SECCOMP_IOCTL_NOTIF_ID_VALID says the call still waits (the thread may have
// been killed and its pid reused meanwhile). The connect itself runs here on a duplicate of the
// program's descriptor with exactly the bytes the rules saw.
void Supervisor::Impl::on_connect(const seccomp_notif& n, Proc& p) {
  const int fd = static_cast<int>(n.data.args[0]);
  const auto len = static_cast<socklen_t>(n.data.args[2]);
  sockaddr_storage ss{};
  if (const Read r = read_sockaddr(n, n.data.args[1], len, ss); r != Read::kOk)
    return r == Read::kGone ? void(++counts.gone) : pass(n.id);
  const int dup = pidfd_getfd(p.pidfd, fd);
  if (dup < 0) return pass(n.id);   // EBADF and friends: the kernel says it to the program
  KnownSocket* known = socket_at(p, fd, dup);
  if (!known) {
    close(dup);
    return pass(n.id);   // ENOTSOCK
  }
  const Cookie c = known->cookie;
  settle_unix(*known, dup);   // an earlier unix connect on it ended one way or the other
  // The socket's own address and path cost system calls: only when a rule on connect names them.
  Local l;
  const std::uint32_t needs = table ? table->needs(filters::CallType::kConnect) : 0;
  if (needs & (filters::kNeedAddresses | filters::kNeedPath)) describe(dup, *known, filters::CallType::kConnect, l);
  filters::SocketFacts& f = l.facts;
  f.family = cookie_family(c);
  f.type = cookie_type(c);
  f.protocol = cookie_protocol(c);
  f.peer_port = f.service_port = port_of(ss);
  to_address(reinterpret_cast<const sockaddr*>(&ss), len, f.peer);
  if (needs & filters::kNeedPath) path_fact(ss, len, l);   // the path connected to
  // A client once a connect of its succeeded or is under way, as the preload object's state says.
  f.role = known->role;
  // The restart of a held connect a signal interrupted (Watch) is the same call to the kernel,
  // decided already: as the preload object sees one call, the rules see one hit.
  const Watch* prior = following(p.tgid, fd, inode_of(dup));
  const bool restart = prior && (prior->interrupted || (prior->held && !valid(prior->id)));
  if (!restart && injected(n, p.tgid, filters::CallType::kConnect, f, c, stats::kConnectFailed, known, &ss, len)) {
    close(dup);
    return;
  }
  if ((f.family == AF_INET || f.family == AF_INET6) && f.type == SOCK_STREAM) return connect_stream(n, p, dup, c, ss, len);
  if (f.type == SOCK_DGRAM && f.family != AF_UNIX) {
    // A datagram connect only sets the default peer: it never blocks.
    const int r = ::connect(dup, reinterpret_cast<const sockaddr*>(&ss), len);
    const int e = errno;
    const ino_t ino = inode_of(dup);
    close(dup);
    ++counts.performed;
    if (r == 0) became_client(p, fd, port_of(ss)), stamp_connected(p.tgid, fd, ino);
    stats::add(slot(c), r == 0 ? stats::kConnected : stats::kConnectFailed);
    return answer(n.id, 0, r == 0 ? 0 : e);
  }
  // Unix sockets connect as the program (SO_PEERCRED names the connecting process): passed
  // through; their outcome is counted when the program next connects or closes that socket.
  if (f.family == AF_UNIX) known->unix_connecting = true;
  close(dup);
  pass(n.id);
}

// A unix connect passed through earlier: getpeername on our duplicate says how it ended.
void Supervisor::Impl::settle_unix(KnownSocket& k, int dup) {
  if (!k.unix_connecting) return;
  k.unix_connecting = false;
  sockaddr_storage peer{};
  socklen_t l = sizeof peer;
  stats::add(slot(k.cookie), getpeername(dup, reinterpret_cast<sockaddr*>(&peer), &l) == 0 ? stats::kConnected
                                                                                           : stats::kConnectFailed);
}

// close(fd): counted for a socket we know, when the fd still holds that socket; always CONTINUE,
// so the program's close is the kernel's. A connect we still follow on it is decided first:
// our duplicate must not keep the program's connection open after the program closed it.
void Supervisor::Impl::on_close(const seccomp_notif& n, Proc& p) {
  const int fd = static_cast<int>(n.data.args[0]);
  auto known = p.fds.find(fd);
  if (known == p.fds.end()) return pass(n.id);
  KnownSocket k = known->second;
  p.fds.erase(known);
  decide_connects_on(p, fd);
  const int dup = pidfd_getfd(p.pidfd, fd);
  const bool same = dup >= 0 && inode_of(dup) == k.ino;
  Local l;
  if (same && table && table->has_rules_for(filters::CallType::kClose)) describe(dup, k, filters::CallType::kClose, l);
  if (same) settle_unix(k, dup);
  if (dup >= 0) close(dup);
  if (same) {
    if (injected(n, p.tgid, filters::CallType::kClose, l.facts, k.cookie, stats::kCloseFailed, &k,
                 l.shown_len ? &l.shown : nullptr, l.shown_len)) {
      p.fds[fd] = k;   // the fd stays open: the program was told its close failed
      return;
    }
    number_closed(p, fd, k);
  }
  pass(n.id);
}

// A held accept keeps waiting, as the kernel's blocked accept keeps its reference to the file;
// so does another thread's held connect. A held connect whose caller left (the EINTR of a
// signal, not noticed yet) is decided now, as an interrupted one: our duplicate must not keep
// the program's connection open after the program let go of its number.
void Supervisor::Impl::decide_connects_on(Proc& p, int fd) {
  for (Watch& w : watches) {
    if (w.kind != Watch::Kind::kConnect || w.dup < 0 || w.tgid != p.tgid || w.fd != fd) continue;
    if (w.held && valid(w.id)) continue;
    if (w.held) w.held = false, w.interrupted = true;
    resolve(w, true);
  }
  std::erase_if(watches, [](const Watch& w) { return w.dup < 0; });
}

// k is no longer in p.fds. As the preload object counts (SocketBook::forget_fd): not for a
// socket the process inherited, and for a socket with several numbers only at its last.
void Supervisor::Impl::number_closed(Proc& p, int, const KnownSocket& k) {
  if (k.inherited) return;
  if (k.shared)
    for (const auto& [other, o] : p.fds)
      if (o.ino == k.ino) return;
  stats::add(slot(k.cookie), stats::kClosed);
}

// dup(from), dup2(from, to), dup3(from, to, flags) and fcntl(from, F_DUPFD*, 0). A number that held a socket is closed by
// dup2 and dup3, and a socket gains a number (its close then counts only at its last number).
// Neither number a socket we know (a shell moving its pipes and files onto 0, 1 and 2): CONTINUE
// at once. Otherwise the supervisor makes the call itself, so it knows whether it happened:
// SECCOMP_IOCTL_NOTIF_ADDFD puts our duplicate of `from` (the same open file) in the program's
// own table, at `to` with FLAG_SETFD (closing what was there, as dup2 does) or at the lowest free
// number (as dup does), and FLAG_SEND answers the call with that number. What the kernel refuses
// before doing anything (from == to, unknown flags, a bad `from`) is the kernel's.
void Supervisor::Impl::on_dup(const seccomp_notif& n, Proc& p) {
  const int from = static_cast<int>(n.data.args[0]);
  // fcntl(from, F_DUPFD or F_DUPFD_CLOEXEC, lowest), the only fcntls the filter hands over, is a
  // dup when `lowest` is 0 (Python's os.dup, Go's dupSocket); ADDFD has no lowest number, so
  // with another the copy is the kernel's, a number the supervisor does not know.
  const bool fcntl_dup = n.data.nr == SYS_fcntl;
  if (fcntl_dup && (n.data.args[2] != 0 || !p.fds.contains(from))) return pass(n.id);
  const bool one = n.data.nr == SYS_dup || fcntl_dup;
  const int to = one ? -1 : static_cast<int>(n.data.args[1]);
  const int flags = n.data.nr == SYS_dup3                                                ? static_cast<int>(n.data.args[2])
                    : fcntl_dup && static_cast<std::uint32_t>(n.data.args[1]) == F_DUPFD_CLOEXEC ? O_CLOEXEC
                                                                                                  : 0;
  const bool known_to = !one && p.fds.contains(to), known_from = p.fds.contains(from);
  if ((!known_to && !known_from) || (!one && (from == to || to < 0)) || (flags & ~O_CLOEXEC)) return pass(n.id);
  const int src = pidfd_getfd(p.pidfd, from);
  if (src < 0) return pass(n.id);   // EBADF: the kernel says it
  const ino_t src_ino = inode_of(src);
  // What `to` holds now: the entry may be stale (the number reused behind our back).
  bool to_same = false;
  if (known_to) {
    const int old = pidfd_getfd(p.pidfd, to);
    to_same = old >= 0 && inode_of(old) == p.fds[to].ino;
    if (to_same) settle_unix(p.fds[to], old);
    if (old >= 0) close(old);
  }
  seccomp_notif_addfd add{};
  add.id = n.id;
  add.flags = one ? SECCOMP_ADDFD_FLAG_SEND : SECCOMP_ADDFD_FLAG_SETFD | SECCOMP_ADDFD_FLAG_SEND;
  add.srcfd = static_cast<std::uint32_t>(src);
  add.newfd = one ? 0 : static_cast<std::uint32_t>(to);
  add.newfd_flags = static_cast<std::uint32_t>(flags & O_CLOEXEC);
  int got = -1;
  for (int i = 0; i < 8 && (got = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add)) < 0 && errno == EINTR; ++i) {
  }
  const int e = errno;
  close(src);
  if (got < 0) {
    // ENOENT: the caller is gone or was interrupted, nothing happened. Else (EBADF: `to` beyond
    // the program's limit; EMFILE; EBUSY) the call still waits and fails as the kernel fails it.
    if (e == ENOENT) return void(++counts.gone);
    return answer(n.id, -1, e);
  }
  ++counts.performed;
  if (auto t = p.fds.find(got); t != p.fds.end()) {
    const KnownSocket k = t->second;
    p.fds.erase(t);
    decide_connects_on(p, got);
    if (to_same) number_closed(p, got, k);
  }
  if (auto f = p.fds.find(from); f != p.fds.end() && f->second.ino == src_ino) {
    f->second.shared = true;
    p.fds[got] = f->second;
  }
}

// execve(path, argv, envp), execveat(dirfd, path, argv, envp, flags): the kernel's (CONTINUE),
// whose outcome the supervisor is never told. What it needs to learn it afterwards is taken
// before the answer, while the calling image still exists: /proc/TID/mem opened now holds that
// image's memory, and reading it gives nothing once the image is gone (mm_users 0: the exec
// replaced it, or the process ended); a vfork child's image is its parent's, so for it the
// question is whether it still shares its parent's memory (kcmp). And the new image's argv[0],
// for its record. check_exec answers the question at the process's next call, every 10 ms on
// serve()'s thread, and before an ended process is swept. Why not something cheaper: docs/shim.md.
void Supervisor::Impl::on_exec(const seccomp_notif& n, Proc& p) {
  const auto tid = static_cast<pid_t>(n.pid);
  const bool at = n.data.nr == SYS_execveat;
  PendingExec x;
  x.tid = tid;
  x.ip = n.data.instruction_pointer;
  x.at_ns = stats::monotonic_ns();
  // argv[0], else the path: at most 255 bytes, in pieces that stay within a page.
  const auto read_string = [tid](std::uint64_t addr) {
    std::string out;
    char buf[256];
    while (addr && out.size() < 255) {
      const std::size_t room = std::min<std::size_t>(4096 - (addr % 4096), 255 - out.size());
      iovec mine{buf, room}, theirs{reinterpret_cast<void*>(addr), room};
      const ssize_t got = process_vm_readv(tid, &mine, 1, &theirs, 1, 0);
      if (got <= 0) break;
      const std::size_t len = ::strnlen(buf, static_cast<std::size_t>(got));
      out.append(buf, len);
      if (len < static_cast<std::size_t>(got)) break;
      addr += static_cast<std::uint64_t>(got);
    }
    return out;
  };
  std::uint64_t argv0_at = 0;
  iovec mine{&argv0_at, sizeof argv0_at}, theirs{reinterpret_cast<void*>(n.data.args[at ? 2 : 1]), sizeof argv0_at};
  if (n.data.args[at ? 2 : 1] == 0 || process_vm_readv(tid, &mine, 1, &theirs, 1, 0) != sizeof argv0_at) argv0_at = 0;
  std::string name = read_string(argv0_at);
  if (name.empty()) name = read_string(n.data.args[at ? 1 : 0]);
  x.argv0 = name.substr(name.rfind('/') + 1);
  if (!p.shares_parent_vm) x.mem = ::open(("/proc/" + std::to_string(tid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (!valid(n.id)) {   // what was read may be another thread's by now
    if (x.mem >= 0) close(x.mem);
    return void(++counts.gone);
  }
  if (p.exec) close(p.exec->mem);
  else ++pending_execs;
  p.exec = std::move(x);
  pass(n.id);
}

void Supervisor::Impl::check_exec(Proc& p, pid_t caller) {
  PendingExec& x = *p.exec;
  bool gone = false;   // the image that made the call is no more
  if (p.shares_parent_vm) {
    gone = syscall(SYS_kcmp, p.tgid, p.ppid, KCMP_VM, 0, 0) != 0;
  } else {
    char byte = 0;
    gone = x.mem < 0 || pread(x.mem, &byte, 1, static_cast<off_t>(x.ip)) != 1;
  }
  pollfd ended{p.pidfd, POLLIN, 0};
  const bool alive = poll(&ended, 1, 0) == 0;
  // Still in the call, or another thread asks: later. An exec takes milliseconds: the image still
  // there a second later, with the process alive, is the old one going on after a failure.
  if (!gone && alive && caller != x.tid && stats::monotonic_ns() - x.at_ns < kSweepNs) return;
  const std::string argv0 = std::move(x.argv0);
  close(x.mem);
  p.exec.reset();
  --pending_execs;
  // The same thread back in its old image (or a second gone by): the exec failed. Gone while the process lives: it
  // succeeded. Gone with the process ended: it cannot be told which image ended it; taken as
  // succeeded (an exec that fails is mostly followed by another, or by a message, first).
  if (!gone) return;
  // The new image's argv[0] as the kernel gave it (a script's is its interpreter's, as the
  // preload object in that interpreter reads it); the call's own when the process is gone.
  std::string name;
  if (alive) {
    if (std::FILE* f = std::fopen(("/proc/" + std::to_string(p.tgid) + "/cmdline").c_str(), "re")) {
      char buf[256] = {};
      const std::size_t got = std::fread(buf, 1, sizeof buf - 1, f);
      std::fclose(f);
      name.assign(buf, ::strnlen(buf, got));
      name = name.substr(name.rfind('/') + 1);
    }
  }
  procs.replaced_image(p, name.empty() ? argv0 : name);
  // The new image starts with no sockets known, as the preload object's fd table in it: the
  // ones still open there (no FD_CLOEXEC) are inherited, their close not counted, no leak;
  // the ones the exec closed are forgotten, neither closed nor leaked (the preload object sees
  // no exec either).
  for (auto it = p.fds.begin(); it != p.fds.end();) {
    const int dup = alive ? pidfd_getfd(p.pidfd, it->first) : -1;
    const bool kept = dup >= 0 && inode_of(dup) == it->second.ino;
    if (dup >= 0) close(dup);
    if (!kept) {
      it = p.fds.erase(it);
      continue;
    }
    KnownSocket& k = it->second;
    k.inherited = true;
    k.shared = false;
    k.rule_counts.clear();
    ++it;
  }
  // Inherited copies of one socket count nothing; the preload object's table in the new image
  // knows none of them as shared.
}

void Supervisor::Impl::check_execs() {
  if (pending_execs == 0) return;
  std::vector<pid_t> due;
  procs.for_each([&due](Proc& p) {
    if (p.exec) due.push_back(p.tgid);
  });
  pending_execs = due.size();   // a sweep may have dropped an ended process's pending exec
  for (pid_t t : due)
    if (Proc* p = procs.find(t); p && p->exec) check_exec(*p, -1);
}

// wait4, waitid: CONTINUE, after the process's children are looked at (/proc/PID/task/*/children,
// zombies included): one the supervisor does not know yet (a fork child that made no notified
// call: it only printed, computed, or forked in turn) gets its record and pidfd now, before this
// wait can reap it, so its exit status is asked of the kernel as any other's. The preload
// object's fork handler writes such a child's record at its fork; the filter cannot hand forks
// over without handing every thread creation too (clone's flags are an argument, clone3's in
// memory), and the child's pid is the answer the supervisor never sees. A child nobody waits
// for (its parent ended first, or ignores SIGCHLD) is found at the 1 s sweep if it lives that
// long, else not at all.
void Supervisor::Impl::on_wait(const seccomp_notif& n, Proc& p) {
  find_children(p);
  pass(n.id);
}

void Supervisor::Impl::find_children(Proc& p) {
  const pid_t tgid = p.tgid;
  const std::string task = "/proc/" + std::to_string(tgid) + "/task";
  DIR* d = opendir(task.c_str());
  if (!d) return;
  std::vector<pid_t> found;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = ::open((task + "/" + e->d_name + "/children").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[4096];
    const ssize_t got = ::read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0) continue;
    buf[got] = 0;
    for (char* at = buf; *at;) {
      char* end = nullptr;
      const long child = std::strtol(at, &end, 10);
      if (end == at) break;
      if (child > 0) found.push_back(static_cast<pid_t>(child));
      at = end;
    }
  }
  closedir(d);
  for (pid_t child : found)
    if (!procs.has(child)) {
      // Its parent's pending exec first: the child's copy of the parent's sockets follows it.
      if (Proc* q = procs.find(tgid); q && q->exec) check_exec(*q, -1);
      procs.of_thread(child);
    }
}

// close_range(first, last, flags): the sockets we know in the range are closed, counted as
// close counts them (no close rules: the preload object applies none to close_range either);
// then CONTINUE. What closes nothing is passed at once: CLOSE_RANGE_CLOEXEC (an exec will close
// them: see on_exec), flags the kernel refuses, first > last.
void Supervisor::Impl::on_close_range(const seccomp_notif& n, Proc& p) {
  const auto first = static_cast<unsigned>(n.data.args[0]), last = static_cast<unsigned>(n.data.args[1]);
  const auto flags = static_cast<unsigned>(n.data.args[2]);
  constexpr unsigned kUnshare = 2, kCloexec = 4;   // CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC
  if ((flags & ~(kUnshare | kCloexec)) || (flags & kCloexec) || first > last) return pass(n.id);
  std::vector<std::pair<int, KnownSocket>> gone;
  for (auto it = p.fds.begin(); it != p.fds.end();) {
    const auto fd = static_cast<unsigned>(it->first);
    if (fd < first || fd > last) {
      ++it;
      continue;
    }
    const int dup = pidfd_getfd(p.pidfd, it->first);
    if (dup >= 0 && inode_of(dup) == it->second.ino) {
      settle_unix(it->second, dup);
      gone.emplace_back(it->first, it->second);
    }
    if (dup >= 0) close(dup);
    it = p.fds.erase(it);
  }
  // Two numbers of one socket in the range: its close is counted once.
  std::vector<ino_t> counted;
  for (const auto& [fd, k] : gone) {
    decide_connects_on(p, fd);
    if (std::find(counted.begin(), counted.end(), k.ino) != counted.end()) continue;
    counted.push_back(k.ino);
    number_closed(p, fd, k);
  }
  pass(n.id);
}

// The socket a listen or accept names (args[0]): our duplicate of it, its cookie and the facts
// rules match on, the local port being the service's. False when fd is no socket (or gone): the
// caller passes the call through and the kernel answers it.
bool Supervisor::Impl::local_socket(const seccomp_notif& n, Proc& p, filters::CallType t, Local& out) {
  out.fd = static_cast<int>(n.data.args[0]);
  out.dup = pidfd_getfd(p.pidfd, out.fd);
  if (out.dup < 0) return false;
  KnownSocket* known = socket_at(p, out.fd, out.dup);
  if (!known) {
    close(out.dup);
    return false;
  }
  out.known = known;
  describe(out.dup, *known, t, out);
  return true;
}

// What the rules see of a socket (dup: our duplicate of it), as the preload object's facts_of has
// them: the service port is a client's peer's port, any other socket's own; addresses and the
// unix path (the peer's, else the socket's own) only when a rule on t names them.
void Supervisor::Impl::describe(int dup, const KnownSocket& known, filters::CallType t, Local& out) {
  out.cookie = known.cookie;
  out.facts.family = cookie_family(out.cookie);
  out.facts.type = cookie_type(out.cookie);
  out.facts.protocol = cookie_protocol(out.cookie);
  out.facts.role = known.role;
  const std::uint32_t needs = table ? table->needs(t) : 0;
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (getsockname(dup, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
    const int port = port_of(local);
    if (port > 0) out.facts.service_port = port;
    // The port it bound, listened on or was accepted on; a client's ephemeral port is no fact,
    // as in the preload object.
    if (known.local_port > 0) out.facts.local_port = known.local_port;
    out.shown = local;
    out.shown_len = len;
    if (needs & filters::kNeedAddresses) to_address(reinterpret_cast<const sockaddr*>(&local), len, out.facts.local);
    if (needs & filters::kNeedPath) path_fact(local, len, out);
  }
  sockaddr_storage peer{};
  len = sizeof peer;
  if (getpeername(dup, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    out.facts.peer_port = port_of(peer);
    if (known.role != filters::Role::kServer && out.facts.peer_port > 0) out.facts.service_port = out.facts.peer_port;
    out.shown = peer;
    out.shown_len = len;
    if (needs & filters::kNeedAddresses) to_address(reinterpret_cast<const sockaddr*>(&peer), len, out.facts.peer);
    if (needs & filters::kNeedPath) path_fact(peer, len, out);
  } else if (known.peer_port > 0) {
    // Reset or shut down by the peer: the port it connected to still names the service.
    out.facts.peer_port = known.peer_port;
    if (known.role != filters::Role::kServer) out.facts.service_port = known.peer_port;
  }
}

// A unix address's path ('@' for an abstract name) becomes the `path` fact; an unnamed one
// leaves it as it was.
void Supervisor::Impl::path_fact(const sockaddr_storage& ss, socklen_t len, Local& out) {
  if (ss.ss_family != AF_UNIX) return;
  char text[sizeof out.path];
  format_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len, text, sizeof text);
  if (text[0] == 0) return;
  std::memcpy(out.path, text, sizeof text);
  out.facts.path = out.path;
}

// accept/accept4(fd, addr, addrlen[, flags]): the connection is accepted here on a duplicate of
// the listening socket and installed in the program with ADDFD_FLAG_SEND, as socket() is, so the
// new fd is known and counted `accepted` with the listener's cookie. A blocking listener's call
// is held until a connection is queued, while other notifications are served.
void Supervisor::Impl::on_accept(const seccomp_notif& n, Proc& p) {
  Local l;
  if (!local_socket(n, p, filters::CallType::kAccept, l)) return pass(n.id);
  const int fd = l.fd, dup = l.dup;
  const Cookie c = l.cookie;
  l.facts.role = filters::Role::kServer;
  if (injected(n, p.tgid, filters::CallType::kAccept, l.facts, c, stats::kAcceptFailed, l.known)) {
    close(dup);
    return;
  }
  const AcceptCall a{n.id, static_cast<pid_t>(n.pid), n.data.args[1], n.data.args[2],
                     n.data.nr == SYS_accept4 ? static_cast<int>(n.data.args[3]) : 0};
  const int flags = fcntl(dup, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) {
    if (watches.size() >= kMaxWatches) {
      close(dup);
      return pass(n.id);   // too many to follow: the kernel waits instead, uncounted
    }
    add_watch(Watch{Watch::Kind::kAccept, dup, p.tgid, fd, c, true, n.id, a, inode_of(dup), false,
                    deadline(dup, SO_RCVTIMEO)});
    return;
  }
  accept_into(p, dup, c, a, false);
  close(dup);
}

// listen(fd, backlog): never blocks, so it runs here on a duplicate (the same socket) and its
// result is the program's answer: counted listened or listen_failed.
void Supervisor::Impl::on_listen(const seccomp_notif& n, Proc& p) {
  Local l;
  if (!local_socket(n, p, filters::CallType::kListen, l)) return pass(n.id);
  const int dup = l.dup;
  const Cookie c = l.cookie;
  if (!injected(n, p.tgid, filters::CallType::kListen, l.facts, c, stats::kListenFailed, l.known)) {
    const int r = ::listen(dup, static_cast<int>(n.data.args[1]));
    const int e = errno;
    if (r == 0 && l.known && l.known->local_port == 0) l.known->local_port = own_port(dup);
    ++counts.performed;
    stats::add(slot(c), r == 0 ? stats::kListened : stats::kListenFailed);
    answer(n.id, 0, r == 0 ? 0 : e);
  }
  close(dup);
}

// Receives one notification into this thread's buffer and handles it under mu; its answers go
// out after mu is released. False when this worker is done: errno EINTR (the wake-up to stop),
// ENOENT (the listener hung up) or another failure.
//
// One worker waits in NOTIF_RECV at a time: the one holding `turn` (recv_mu). It keeps it from
// call to call, unless more calls are waiting when it received one: then it lets it go, and the
// next worker receives them while this one handles its own. So a program making one call at a
// time is served by one thread, warm, as before (the kernel would hand successive calls to the
// waiting workers in turn: about 3 µs more per call, measured), and calls made at once are
// still taken at once.
bool Supervisor::Impl::serve_one(std::unique_lock<std::mutex>& turn) {
  std::vector<std::byte>& req = req_buf();
  std::fill(req.begin(), req.end(), std::byte{0});   // the kernel refuses a dirty buffer
  auto* n = reinterpret_cast<seccomp_notif*>(req.data());
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, n) != 0) {
    // ENOENT: the caller left; or every filtered process is gone, when the kernel answers every
    // wait at once with it (POLLHUP): this worker is done then.
    if (errno != ENOENT) return false;
    pollfd hup{listener, 0, 0};
    return !(poll(&hup, 1, 0) == 1 && (hup.revents & (POLLHUP | POLLERR)));
  }
  if (pollfd more{listener, POLLIN, 0}; poll(&more, 1, 0) == 1 && (more.revents & POLLIN)) turn.unlock();
  if (n->data.nr == SYS_socket || n->data.nr == SYS_socketpair) {
    bufs().netns_same = same_netns(static_cast<pid_t>(n->pid));   // outside mu: only `netns`, fixed, is read
    bufs().netns_checked = true;
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    bufs().lock = &lock;
    ++counts.notifications;
    dispatch(*n);
    bufs().lock = nullptr;
    bufs().netns_checked = false;   // a call that never reached decide_socket (a rule delayed it)
  }
  flush();
  return true;
}

void Supervisor::Impl::dispatch(const seccomp_notif& notif) {
  const seccomp_notif* n = &notif;
  Proc* p = procs.of_thread(static_cast<pid_t>(n->pid), [this](pid_t parent) {
    if (Proc* q = procs.find(parent); q && q->exec) check_exec(*q, -1);
  });
  if (!p) return pass(n->id);
  if (p->exec) {
    // Its own image must be known before its call is: an exec since may have closed sockets.
    check_exec(*p, static_cast<pid_t>(n->pid));
    if (!(p = procs.of_thread(static_cast<pid_t>(n->pid)))) return pass(n->id);
  }
  switch (n->data.nr) {
    case SYS_socket: return on_socket(*n, *p);
    case SYS_connect: return on_connect(*n, *p);
    case SYS_close: return on_close(*n, *p);
    case SYS_dup:
    case SYS_dup2:
    case SYS_dup3:
    case SYS_fcntl: return on_dup(*n, *p);
    case SYS_close_range: return on_close_range(*n, *p);
    case SYS_execve:
    case SYS_execveat: return on_exec(*n, *p);
    case SYS_wait4:
    case SYS_waitid: return on_wait(*n, *p);
    case SYS_listen: return on_listen(*n, *p);
    case SYS_accept:
    case SYS_accept4: return on_accept(*n, *p);
    case SYS_socketpair: return on_socketpair(*n, *p);
    case SYS_bind: return on_bind(*n, *p);
    case SYS_shutdown: return on_other(*n, *p, filters::CallType::kShutdown);
    case SYS_getsockopt: return on_other(*n, *p, filters::CallType::kGetsockopt);
    case SYS_setsockopt: return on_other(*n, *p, filters::CallType::kSetsockopt);
    case SYS_read: case SYS_write: case SYS_readv: case SYS_writev:
    case SYS_sendto: case SYS_recvfrom: case SYS_sendmsg: case SYS_recvmsg:
    case SYS_sendmmsg: case SYS_recvmmsg: case SYS_sendfile: return on_transfer(*n, *p);
    default: return pass(n->id);   // the filter sends nothing else
  }
}

Supervisor::Supervisor(int listener, stats::Segment& seg, const filters::Table* table, bool killable)
    : impl_(std::make_unique<Impl>(listener, seg, table, killable)) {}

Supervisor::~Supervisor() {
  for (Watch& w : impl_->watches) close(w.dup);
  close(impl_->listener);   // calls still waiting get ENOSYS from the kernel
}

const SupervisorCounts& Supervisor::counts() const {
  impl_->counts.gone += impl_->gone_unlocked.exchange(0);
  return impl_->counts;
}

namespace {

void wake_worker(int) {}   // only ends the worker's wait in NOTIF_RECV (EINTR)
const int kWakeSignal = SIGRTMIN + 3;

// How many threads wait for notifications: one per CPU, 2 to 8. One would make a program's
// threads queue behind each other's calls; more than the CPUs only take turns on them.
int worker_count() {
  if (const char* e = std::getenv("SOCKSHIM_SUPERVISOR_THREADS"); e && *e) return std::clamp(std::atoi(e), 1, 64);
  const unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(n, 2u, 8u));
}

}  // namespace

void Supervisor::Impl::work() {
  std::vector<Answer> outbox;
  bufs().outbox = &outbox;
  std::unique_lock<std::mutex> turn(recv_mu, std::defer_lock);
  while (!stopping.load(std::memory_order_acquire)) {
    if (!turn.owns_lock()) {
      turn.lock();
      continue;   // stopping may have come meanwhile
    }
    errno = 0;
    if (!serve_one(turn) && errno != EINTR) break;   // the listener hung up, or failed
  }
  bufs().outbox = nullptr;
  workers_running.fetch_sub(1, std::memory_order_release);
}

int Supervisor::serve(pid_t pid, const std::string& argv0) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.procs.add_main(pid, argv0);
  }
  const int child = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (child < 0) return -1;
  s.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  // The workers take no signal but the one that ends their wait: `sockshim run`'s forwarding
  // handler runs in this thread.
  struct sigaction sa {};
  sa.sa_handler = wake_worker;   // no SA_RESTART: NOTIF_RECV returns EINTR
  sigaction(kWakeSignal, &sa, nullptr);
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, kWakeSignal);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  s.stopping.store(false);
  std::vector<std::thread> workers;
  const int count = worker_count();
  s.workers_running.store(count);
  for (int i = 0; i < count; ++i) workers.emplace_back([&s] { s.work(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  sigset_t wake;
  sigemptyset(&wake);
  sigaddset(&wake, kWakeSignal);
  pthread_sigmask(SIG_BLOCK, &wake, nullptr);

  bool listening = true;
  std::int64_t next_sweep = stats::monotonic_ns() + kSweepNs;
  std::vector<pollfd> fds;
  std::vector<std::uint64_t> polled;
  std::vector<Answer> outbox;
  Impl::bufs().outbox = &outbox;
  for (;;) {
    fds.clear();
    polled.clear();
    fds.push_back({child, POLLIN, 0});
    fds.push_back({listening ? s.listener : -1, 0, 0});   // POLLHUP only: the workers receive
    fds.push_back({s.wake_fd, POLLIN, 0});
    int timeout = kPollMs;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      for (const Watch& w : s.watches) {
        fds.push_back({w.dup, w.events(), 0});
        polled.push_back(w.serial);
      }
      timeout = s.until_due(kPollMs);
    }
    // A watch's dup may be closed by a worker while this waits: its serial no longer names a
    // watch then (serve_watches), and the poll's answer for it is ignored.
    const int n = poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) break;
    if (n > 0 && (fds[2].revents & POLLIN)) {
      std::uint64_t drained = 0;
      [[maybe_unused]] const ssize_t r = ::read(s.wake_fd, &drained, sizeof drained);
    }
    if (n > 0 && (fds[1].revents & (POLLHUP | POLLERR))) listening = false;   // every filtered process is gone
    {
      std::lock_guard<std::mutex> lock(s.mu);
      if (n > 0) s.serve_watches(fds, 3, polled);
      if (!s.delayed.empty()) s.run_due();
      s.time_out_held();
      s.interrupt_signalled();
      s.check_execs();
      if (stats::monotonic_ns() >= next_sweep) {
        s.drop_finished();
        next_sweep = stats::monotonic_ns() + kSweepNs;
      }
    }
    s.flush();
    if (n > 0 && (fds[0].revents & POLLIN)) break;
  }
  Impl::bufs().outbox = nullptr;
  // The workers wait in NOTIF_RECV: the wake signal ends that wait (again, in case one was
  // between its check of the flag and the ioctl when it came).
  s.stopping.store(true, std::memory_order_release);
  for (int i = 0; i < 5000 && s.workers_running.load(std::memory_order_acquire) > 0; ++i) {
    for (std::thread& t : workers) pthread_kill(t.native_handle(), kWakeSignal);
    usleep(1000);
  }
  for (std::thread& t : workers) t.join();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(s.wake_fd);
  s.wake_fd = -1;
  s.check_execs();       // before the books are read for leaks
  s.procs.finish(pid);   // the command's leaks; how the others that ended meanwhile ended
  close(child);
  int raw = 0;
  while (waitpid(pid, &raw, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return raw;
}

}  // namespace shim::seccomp
