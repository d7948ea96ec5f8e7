// The calls the supervisor follows after answering them, or holds unanswered: TCP connects and
// blocking accepts (watches polled on duplicates), what signals, socket timeouts and a program's
// end do to them, and calls put aside for a rule's delay.
#include "shim/seccomp/supervisor_impl.h"

namespace shim::seccomp {

// TCP: started non-blocking here. A non-blocking socket's program gets the answer at once
// (EINPROGRESS usually) and the outcome is counted when the socket says it; a blocking one's
// call is held until then and answered with the outcome, as the kernel's own wait would.
void Supervisor::Impl::connect_stream(const seccomp_notif& n, Proc& caller, int dup, Cookie c,
                                      const sockaddr_storage& ss, socklen_t len) {
  const int fd = static_cast<int>(n.data.args[0]);
  const ino_t ino = inode_of(dup);
  const int flags = fcntl(dup, F_GETFL);
  const bool blocking = flags >= 0 && !(flags & O_NONBLOCK);
  const pid_t tgid = caller.tgid;
  int r = -1, e = 0;
  {
    // A loopback connect makes the whole handshake in this call: without mu (a worker's).
    Unlocked u;
    // The flag is the open file's, shared with the program: set only for the one call. A second
    // thread of the program using this socket in that instant would see it non-blocking.
    if (blocking) fcntl(dup, F_SETFL, flags | O_NONBLOCK);
    r = ::connect(dup, reinterpret_cast<const sockaddr*>(&ss), len);
    e = errno;
    if (blocking) fcntl(dup, F_SETFL, flags);
  }
  ++counts.performed;
  Proc* q = procs.find(tgid);
  if (!q) {   // killed meanwhile: nobody waits for the answer
    close(dup);
    ++counts.gone;
    return;
  }
  Proc& p = *q;
  const bool in_progress = r != 0 && (e == EINPROGRESS || e == EALREADY);
  if (r == 0 || in_progress) became_client(p, fd, port_of(ss));
  if (Watch* prior = following(p.tgid, fd, ino)) {
    close(dup);
    return connect_again(n, *prior, blocking, r, e);
  }
  // The outcome of an interrupted connect that resolve() counted already: this connect (a restart
  // that came late, or the program asking again) learns it, and is not counted twice.
  if (auto k = p.fds.find(fd); k != p.fds.end() && k->second.ino == ino && k->second.settled && !in_progress) {
    k->second.settled = false;
    close(dup);
    return answer(n.id, 0, r == 0 ? 0 : e);
  }
  // EALREADY on a blocking socket: a connect started before we knew the socket (or one we
  // stopped following) is still under way; the program's call waits for it.
  const bool pending = r != 0 && (e == EINPROGRESS || (blocking && e == EALREADY));
  if (pending && watches.size() < kMaxWatches) {
    Watch w{Watch::Kind::kConnect, dup, p.tgid, fd, c, blocking, n.id, {}, ino, false,
            blocking ? deadline(dup, SO_SNDTIMEO) : 0};
    w.connect_tid = static_cast<pid_t>(n.pid);
    if (!blocking) {
      stats::add(slot(c), stats::kConnectPending);
      answer(n.id, -1, e);
    }
    // On loopback the handshake is usually over by now: decided here, with no watch (and no
    // wake of serve()'s thread to poll it).
    if (pollfd ready{dup, POLLOUT, 0}; poll(&ready, 1, 0) == 1) return resolve(w, false);
    add_watch(std::move(w));
    return;
  }
  close(dup);
  if (pending && blocking) return pass(n.id);   // too many to follow: the kernel waits instead
  if (r == 0) stats::add(slot(c), stats::kConnected), stamp_connected(p.tgid, fd, ino);
  else if (e == EINPROGRESS) stats::add(slot(c), stats::kConnectPending), ++counts.unresolved;
  else if (e != EALREADY && e != EINTR) stats::add(slot(c), stats::kConnectFailed);   // as the preload object
  answer(n.id, 0, r == 0 ? 0 : e);
}

// The connect we follow on this socket of process tgid, if any.
Watch* Supervisor::Impl::following(pid_t tgid, int fd, ino_t ino) {
  for (Watch& w : watches)
    if (w.kind == Watch::Kind::kConnect && w.dup >= 0 && w.tgid == tgid && w.fd == fd && w.ino == ino) return &w;
  return nullptr;
}

// A connect on a socket whose earlier connect we follow (r, e: what it gave on our duplicate): a
// blocking call restarted after a signal (SA_RESTART, or SIGSTOP and SIGCONT) or the program
// asking again after EINPROGRESS or EINTR. It is the same attempt as the kernel sees it: one
// outcome is counted, when it is known; the restart of an interrupted call, which the program
// never saw, counts no connect_pending.
void Supervisor::Impl::connect_again(const seccomp_notif& n, Watch& prior, bool blocking, int r, int e) {
  const bool in_progress = r != 0 && (e == EINPROGRESS || e == EALREADY);
  const bool other_waits = prior.held && valid(prior.id);   // another thread's blocking connect
  if (in_progress) {
    if (!blocking) return answer(n.id, -1, e);   // EALREADY; nothing new to count
    if (other_waits) return pass(n.id);          // the kernel makes it wait for the same attempt
    prior.held = true;                           // the restarted call waits for our answer
    prior.interrupted = false;
    prior.id = n.id;
    prior.connect_tid = static_cast<pid_t>(n.pid);
    prior.deadline_ns = deadline(prior.dup, SO_SNDTIMEO);   // a new wait, a new timeout
    return;
  }
  const bool ok = r == 0 || e == EISCONN;
  stats::add(slot(prior.cookie), ok ? stats::kConnected : stats::kConnectFailed);
  if (ok) stamp_connected(prior.tgid, prior.fd, prior.ino);
  if (other_waits) answer(prior.id, 0, ok ? 0 : e);
  close(prior.dup);
  prior.dup = -1;
  std::erase_if(watches, [](const Watch& w) { return w.dup < 0; });
  answer(n.id, 0, r == 0 ? 0 : e);
}

// Counts how a followed connect ended. A held one takes SO_ERROR (its answer, as the kernel's
// blocking connect would consume it); a non-blocking one leaves SO_ERROR to the program and
// asks getpeername. `now`: the program closes the socket, decide with what is known.
void Supervisor::Impl::resolve(Watch& w, bool now) {
  if (w.held) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(w.dup, SOL_SOCKET, SO_ERROR, &err, &l);
    if (now && err == 0) err = EINTR;
    stats::add(slot(w.cookie), err == 0 ? stats::kConnected : stats::kConnectFailed);
    if (err == 0) stamp_connected(w.tgid, w.fd, w.ino);
    answer(w.id, 0, err);
  } else {
    // The EINTR an interrupted call's program saw counts as the preload object counts it.
    if (w.interrupted) stats::add(slot(w.cookie), stats::kConnectPending);
    sockaddr_storage peer{};
    socklen_t l = sizeof peer;
    if (getpeername(w.dup, reinterpret_cast<sockaddr*>(&peer), &l) == 0)
      stats::add(slot(w.cookie), stats::kConnected), stamp_connected(w.tgid, w.fd, w.ino);
    else if (!now) stats::add(slot(w.cookie), stats::kConnectFailed);
    else ++counts.unresolved;
    if (w.interrupted && !now) settle(w);
  }
  close(w.dup);
  w.dup = -1;
}

// An interrupted connect's outcome was counted: the program's next connect on that socket only
// learns it (shim/seccomp/proc_table.h, KnownSocket::settled).
void Supervisor::Impl::settle(const Watch& w) {
  if (Proc* p = procs.find(w.tgid))
    if (auto k = p->fds.find(w.fd); k != p->fds.end() && k->second.ino == w.ino) k->second.settled = true;
}

// Writes the peer's address where accept's caller wants it, as the kernel does: at most
// *addrlen bytes, and *addrlen set to the full length. False when the program's memory refuses.
bool Supervisor::Impl::copy_peer(const AcceptCall& a, const sockaddr_storage& peer, socklen_t len) {
  if (!a.addr || !a.addrlen) return true;
  socklen_t room = 0;
  iovec mine{&room, sizeof room};
  iovec theirs{reinterpret_cast<void*>(a.addrlen), sizeof room};
  if (process_vm_readv(a.tid, &mine, 1, &theirs, 1, 0) != static_cast<ssize_t>(sizeof room)) return false;
  iovec addr_mine{const_cast<sockaddr_storage*>(&peer), std::min(room, len)};
  iovec addr_theirs{reinterpret_cast<void*>(a.addr), addr_mine.iov_len};
  iovec len_mine{&len, sizeof len};
  if (addr_mine.iov_len && process_vm_writev(a.tid, &addr_mine, 1, &addr_theirs, 1, 0) != static_cast<ssize_t>(addr_mine.iov_len))
    return false;
  return process_vm_writev(a.tid, &len_mine, 1, &theirs, 1, 0) == static_cast<ssize_t>(sizeof len);
}

// Accepts one connection on dup for call `a` and answers it. held: the listener is blocking (its
// O_NONBLOCK is set only for this accept, as for a held connect); false then when nothing was
// queued after all (another thread took it), and the call stays held.
bool Supervisor::Impl::accept_into(Proc& p, int dup, Cookie c, const AcceptCall& a, bool held) {
  const int flags = held ? fcntl(dup, F_GETFL) : -1;
  if (held && flags >= 0) fcntl(dup, F_SETFL, flags | O_NONBLOCK);
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  const int s = ::accept4(dup, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC | (a.flags & SOCK_NONBLOCK));
  const int e = errno;
  if (held && flags >= 0) fcntl(dup, F_SETFL, flags);
  if (s < 0) {
    const bool would_block = e == EAGAIN || e == EWOULDBLOCK;
    if (held && would_block) return false;
    if (!would_block) stats::add(slot(c), stats::kAcceptFailed);
    answer(a.id, -1, e);
    return true;
  }
  ++counts.performed;
  if (!copy_peer(a, peer, len)) {
    close(s);   // the kernel loses the connection too when it cannot write the address
    answer(a.id, -1, EFAULT);
    return true;
  }
  const ino_t ino = inode_of(s);
  const int port = own_port(s);
  const int fd = add_fd(a.id, s, a.flags & SOCK_CLOEXEC, true);
  const int add_errno = errno;
  close(s);
  if (fd < 0) {
    if (add_errno == ENOENT) ++counts.gone; else answer(a.id, -1, add_errno);
    return true;
  }
  stats::add(slot(c), stats::kAccepted);
  p.fds[fd] = KnownSocket{c, ino, filters::Role::kServer};
  p.fds[fd].connected_at = elapsed_ms() + 1;
  p.fds[fd].local_port = port;
  return true;
}

// Delayed calls whose time has come go through their handlers again, with their rule's decision.
// A caller that left meanwhile (a signal: EINTR, or a restart, which is a new call) is dropped.
void Supervisor::Impl::run_due() {
  const std::int64_t now = stats::monotonic_ns();
  std::vector<Delayed> due;
  for (auto it = delayed.begin(); it != delayed.end();) {
    if (it->due_ns <= now) {
      due.push_back(std::move(*it));
      it = delayed.erase(it);
    } else {
      ++it;
    }
  }
  for (Delayed& d : due) {
    const auto* n = reinterpret_cast<const seccomp_notif*>(d.notif.data());
    if (!valid(n->id)) {
      ++counts.gone;
      continue;
    }
    replay_rule = d.rule;
    replay_hit = d.hit;
    dispatch(*n);
    replay_rule = -1;
    replay_hit = 0;
  }
}

// fds[first..] were polled for the watches named in `polled` (serials); serving notifications
// since may have ended some of them and added others.
void Supervisor::Impl::serve_watches(const std::vector<pollfd>& fds, std::size_t first,
                                     const std::vector<std::uint64_t>& polled) {
  std::unordered_map<std::uint64_t, std::size_t> at;
  for (std::size_t i = 0; i < watches.size(); ++i) at[watches[i].serial] = i;
  for (std::size_t i = first; i < fds.size(); ++i) {
    if (!fds[i].revents) continue;
    const auto found = at.find(polled[i - first]);
    if (found == at.end()) continue;
    Watch& w = watches[found->second];
    if (w.dup < 0) continue;
    if (w.kind == Watch::Kind::kConnect) {
      // Its caller left (a signal without restart, or one whose restart has not come yet): the
      // outcome is only counted, SO_ERROR stays the program's.
      if (w.held && !valid(w.id)) w.held = false, w.interrupted = true;
      resolve(w, false);
      continue;
    }
    // A held send or receive whose socket is ready: made now, unless the caller left meanwhile
    // (a signal: its EINTR, or its restart, a new call) — then nothing was moved for it.
    if (w.kind == Watch::Kind::kTransfer) {
      if (!valid(w.id)) {
        ++counts.gone;
        close(w.dup);
        w.dup = -1;
      } else if (const std::shared_ptr<Transfer> x = w.xfer; run_transfer(x, w.dup, true)) {
        close(w.dup);
        w.dup = -1;
      }
      continue;
    }
    // A connection is queued: hand it over, unless the caller left meanwhile (it must not take
    // a connection nobody will see) or another thread of the program took it first.
    Proc* p = procs.find(w.tgid);
    if (!p || !valid(w.accept.id) || accept_into(*p, w.dup, w.cookie, w.accept, true)) {
      close(w.dup);
      w.dup = -1;
    }
  }
  std::erase_if(watches, [](const Watch& w) { return w.dup < 0; });
}

// Watches of processes that ended: nobody waits for them; drop our duplicates, which would
// otherwise keep the connection attempt (or the listening socket) alive. Held calls whose caller
// left (killed, or interrupted by a signal): an accept is dropped; a connect, whose attempt goes
// on in the program's socket, is followed as interrupted (Watch).
// When a held call's wait would end by the socket's own timeout (SO_SNDTIMEO for connect,
// SO_RCVTIMEO for accept); 0 when it has none.
std::int64_t Supervisor::Impl::deadline(int dup, int option) {
  timeval tv{};
  socklen_t l = sizeof tv;
  if (getsockopt(dup, SOL_SOCKET, option, &tv, &l) != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0)) return 0;
  return stats::monotonic_ns() + static_cast<std::int64_t>(tv.tv_sec) * 1'000'000'000 +
         static_cast<std::int64_t>(tv.tv_usec) * 1'000;
}

// Held calls whose socket timeout passed are answered as the kernel answers them: a connect with
// EINPROGRESS (counted connect_pending, as the preload object counts it; its outcome is still
// followed and counted), an accept with EAGAIN (dropped, nothing counted).
void Supervisor::Impl::time_out_held() {
  const std::int64_t now = stats::monotonic_ns();
  for (Watch& w : watches) {
    if (!w.held || !w.deadline_ns || w.deadline_ns > now || w.dup < 0) continue;
    w.deadline_ns = 0;
    const std::uint64_t id = w.kind == Watch::Kind::kAccept ? w.accept.id : w.id;
    if (w.kind == Watch::Kind::kTransfer) {
      // The socket's SO_SNDTIMEO/SO_RCVTIMEO passed: EAGAIN, or what a MSG_WAITALL receive got.
      const Transfer& x = *w.xfer;
      if (x.done) count_transfer(x, x.done), answer_moved(x, static_cast<std::int64_t>(x.done), 0);
      else answer(id, -1, EAGAIN);
      close(w.dup);
      w.dup = -1;
      continue;
    }
    if (w.kind == Watch::Kind::kAccept) {
      answer(id, -1, EAGAIN);
      close(w.dup);
      w.dup = -1;
      continue;
    }
    w.held = false;
    if (!valid(id)) {
      w.interrupted = true;   // a signal came first: as any interrupted connect
      continue;
    }
    stats::add(slot(w.cookie), stats::kConnectPending);
    answer(id, -1, EINPROGRESS);
  }
  std::erase_if(watches, [](const Watch& w) { return w.dup < 0; });
}

namespace {

// A signal the thread would take now: pending for it or its process, and not blocked. (Ignored
// signals are never queued.) /proc/TID/status: SigPnd, ShdPnd, SigBlk.
bool signal_pending(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(tid));
  std::FILE* f = std::fopen(path, "re");
  if (!f) return false;
  unsigned long long pnd = 0, shd = 0, blk = 0, v = 0;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "SigPnd: %llx", &v) == 1) pnd = v;
    else if (std::sscanf(line, "ShdPnd: %llx", &v) == 1) shd = v;
    else if (std::sscanf(line, "SigBlk: %llx", &v) == 1) blk = v;
  }
  std::fclose(f);
  return ((pnd | shd) & ~blk) != 0;
}

}  // namespace

// Held and delayed calls wait killable once received (the launcher asks for
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, so a call answered at once cannot be interrupted after
// we made it: its bytes would move twice). A signal for such a thread ends its wait here, as the
// kernel would end it: answered -ERESTARTSYS, which the kernel turns into EINTR or a restart (or
// a restart when no handler runs) on the way out. Then it is a caller that left (Watch).
void Supervisor::Impl::interrupt_signalled() {
  // At most kSignalChecks threads a round, taking turns: with thousands of held calls (a
  // threaded server's idle connections) the look costs bounded time, and a signal waits longer.
  std::size_t checks = 0, k = 0;
  const std::size_t n = watches.size();
  for (; k < n && checks < kSignalChecks; ++k) {
    Watch& w = watches[(signal_cursor + k) % n];
    if (!w.held || w.dup < 0) continue;
    ++checks;
    const std::uint64_t id = w.kind == Watch::Kind::kAccept ? w.accept.id : w.id;
    if (!signal_pending(w.caller())) continue;
    if (w.kind == Watch::Kind::kTransfer && w.xfer->done) {
      // A MSG_WAITALL receive with part of its bytes: the kernel returns that part for a signal.
      count_transfer(*w.xfer, w.xfer->done);
      answer_moved(*w.xfer, static_cast<std::int64_t>(w.xfer->done), 0);
      close(w.dup);
      w.dup = -1;
      continue;
    }
    if (!reply(id, -1, kErestartsys)) continue;
    if (w.kind == Watch::Kind::kConnect) {
      w.held = false;
      w.interrupted = true;
    } else {
      close(w.dup);   // nothing was taken for it
      w.dup = -1;
    }
  }
  signal_cursor = n ? (signal_cursor + k) % n : 0;
  std::erase_if(watches, [](const Watch& w) { return w.dup < 0; });
  std::erase_if(delayed, [this](const Delayed& d) {
    const auto* notif = reinterpret_cast<const seccomp_notif*>(d.notif.data());
    return signal_pending(static_cast<pid_t>(notif->pid)) && reply(notif->id, -1, kErestartsys);
  });
}

void Supervisor::Impl::drop_finished() {
  // Children nobody waited for yet (on_wait): found while they live, and so recorded.
  std::vector<pid_t> known;
  procs.for_each([&known](Proc& p) { known.push_back(p.tgid); });
  for (pid_t t : known)
    if (Proc* p = procs.find(t)) find_children(*p);
  check_execs();   // an ended process's image is told before its sockets become its leaks
  procs.sweep();
  for (Watch& w : watches) {
    const bool process_gone = !procs.has(w.tgid);
    const bool caller_gone = w.held && !valid(w.kind == Watch::Kind::kAccept ? w.accept.id : w.id);
    if (w.kind == Watch::Kind::kTransfer && (process_gone || caller_gone)) {
      close(w.dup);   // a held send or receive: nothing was moved for it
      w.dup = -1;
      ++counts.gone;
    } else if (!process_gone && caller_gone && w.kind == Watch::Kind::kConnect) {
      w.held = false;
      w.interrupted = true;
    } else if (process_gone || caller_gone) {
      if (w.interrupted) stats::add(slot(w.cookie), stats::kConnectPending);   // the EINTR it saw
      close(w.dup);
      w.dup = -1;
      ++counts.unresolved;
    }
  }
  std::erase_if(watches, [](const Watch& w) { return w.dup < 0; });
}

}  // namespace shim::seccomp
