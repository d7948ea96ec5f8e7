#include "shim/seccomp/supervisor.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "shim/cookie.h"
#include "shim/seccomp/proc_table.h"
#include "shim/sockaddr_text.h"
#include "shim/stats/segment.h"

namespace shim::seccomp {
namespace {

constexpr int kPollMs = 200;              // how often a quiet loop looks at the command and the processes
constexpr int kBurst = 64;                // notifications served per wake before the others get a look
constexpr std::size_t kMaxWatches = 4096; // pending connects followed at once; beyond, uncounted
constexpr std::int64_t kSweepNs = 1'000'000'000;
constexpr stats::Counter kNoCounter = stats::kCounterCount;
constexpr std::size_t kMaxDelayed = 4096; // calls waiting out a rule's delay at once; beyond, no delay

int pidfd_getfd(int pidfd, int fd) { return static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0)); }

// The protocol as the kernel reports it (TCP is 6 when the program passed 0), for the cookie.
int normal_protocol(int family, int type, int protocol) {
  if (protocol != 0 || (family != AF_INET && family != AF_INET6)) return protocol;
  if (type == SOCK_STREAM) return IPPROTO_TCP;
  if (type == SOCK_DGRAM) return IPPROTO_UDP;
  return protocol;
}

int port_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return -1;
}

ino_t inode_of(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

ino_t own_netns() {
  struct stat st {};
  return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// An accept or accept4 the supervisor answers: where the peer's address goes in the program.
struct AcceptCall {
  std::uint64_t id = 0;
  pid_t tid = -1;
  std::uint64_t addr = 0, addrlen = 0;   // the program's pointers; 0: not wanted
  int flags = 0;                         // accept4's SOCK_NONBLOCK | SOCK_CLOEXEC
};

// A call on a socket whose outcome is not known yet, followed with poll on a duplicate.
// Connect: held means the program's blocking connect waits for our answer (notification `id`);
// otherwise the program got EINPROGRESS and we only count. Accept: always held, answered when a
// connection is queued (a blocking listener; a non-blocking one is answered at once).
//
// A signal invalidates a held call's notification (the kernel ends the wait with ERESTARTSYS:
// EINTR for a handler without SA_RESTART, else the call is made again, a new notification). A
// held accept is then dropped: no connection is taken for nobody. A held connect's attempt goes
// on in the kernel either way, so it becomes `interrupted`: followed without an answer and, since
// the program may have seen EINTR, counted connect_pending plus its outcome when that is known,
// unless the program's connect comes again first (a restart: connect_again takes it over).
struct Watch {
  enum class Kind : std::uint8_t { kConnect, kAccept };
  Kind kind = Kind::kConnect;
  int dup = -1;
  pid_t tgid = -1;
  int fd = -1;
  Cookie cookie = 0;
  bool held = false;
  std::uint64_t id = 0;
  AcceptCall accept{};
  ino_t ino = 0;              // the socket's, so a later connect on the same fd finds this one
  bool interrupted = false;   // a held connect whose caller left: nothing counted yet
  // A held call's SO_SNDTIMEO (connect) or SO_RCVTIMEO (accept) ends at this CLOCK_MONOTONIC
  // time: the kernel's wait would end there (EINPROGRESS, EAGAIN). 0: no timeout.
  std::int64_t deadline_ns = 0;
  std::uint64_t serial = 0;   // names the watch across a round of the serve loop
  short events() const { return kind == Kind::kAccept ? POLLIN : POLLOUT; }
};

}  // namespace

struct Supervisor::Impl {
  int listener;
  stats::Segment& seg;
  const filters::Table* table;
  ProcTable procs;
  SupervisorCounts counts;
  std::vector<Watch> watches;
  std::uint64_t next_serial = 1;
  std::vector<std::byte> req_buf, resp_buf;
  ino_t netns = own_netns();

  Impl(int l, stats::Segment& s, const filters::Table* t) : listener(l), seg(s), table(t), procs(s) {
    seccomp_notif_sizes sizes{};
    syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
    // The kernel's structs may be larger than the headers' (new fields): size buffers for both.
    req_buf.resize(std::max<std::size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
    resp_buf.resize(std::max<std::size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
  }

  bool valid(std::uint64_t id) { return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0; }

  // err: a positive errno to fail the call with, 0 to return val.
  void answer(std::uint64_t id, std::int64_t val, int err, bool cont = false) {
    std::fill(resp_buf.begin(), resp_buf.end(), std::byte{0});
    auto* r = reinterpret_cast<seccomp_notif_resp*>(resp_buf.data());
    r->id = id;
    r->val = val;
    r->error = err ? -err : 0;
    r->flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
    // EINTR (a signal `sockshim run` forwards) must not leave the call unanswered for good.
    int rc = 0;
    for (int i = 0; i < 8 && (rc = ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, r)) != 0 && errno == EINTR; ++i) {
    }
    if (rc != 0) ++counts.gone;
  }
  void pass(std::uint64_t id) {
    ++counts.continued;
    answer(id, 0, 0, true);
  }

  stats::CookieSlot* slot(Cookie c) { return stats::cookie_slot(seg, c); }

  std::uint64_t elapsed_ms() const {
    const std::int64_t ns = stats::monotonic_ns() - seg.header.created_mono_ns;
    return ns > 0 ? static_cast<std::uint64_t>(ns) / 1000000u : 0;
  }

  // The first enabled rule on t that matches and whose trigger selects this hit; -1 when none
  // acts. Counts hits and fires in the segment as the preload object does; a `"count": "socket"`
  // rule counts its trigger's hits and fires per socket (ks, when the call is on one), draws on
  // the run's hit number, and adds its fires to the run's too.
  int decide(filters::CallType t, const filters::SocketFacts& f, std::uint64_t* hit, KnownSocket* ks, pid_t tid) {
    if (!table || !table->has_rules_for(t)) return -1;
    int idx = table->first_match(t, f, -1);
    while (idx >= 0 && (idx >= static_cast<int>(stats::kMaxRules) ||
                        seg.rules[idx].disabled.load(std::memory_order_relaxed) || !program_matches(idx, tid)))
      idx = table->first_match(t, f, idx);
    if (idx < 0) return -1;
    stats::RuleSlot& rs = seg.rules[idx];
    const filters::When& w = table->rules()[static_cast<std::size_t>(idx)].when;
    filters::Hit h;
    h.n = rs.hits.fetch_add(1, std::memory_order_relaxed) + 1;
    RuleCount* sc = w.count == filters::Count::kSocket && ks ? &ks->count_of(idx) : nullptr;
    if (sc) {
      h.draw_n = h.n;
      h.n = ++sc->hits;
    }
    if (w.from_ms || w.until_ms) h.elapsed_ms = elapsed_ms();
    if (!w.selects(h, seg.header.seed, static_cast<std::uint32_t>(idx))) return -1;
    if (sc) {
      if (w.times && sc->fired >= w.times) return -1;
      ++sc->fired;
      rs.fired.fetch_add(1, std::memory_order_relaxed);
    } else if (!stats::take_fire(rs, w.times)) {
      return -1;
    }
    *hit = h.n;
    return idx;
  }

  // A rule's `argv0` against the calling process's program, as the preload object matches it in
  // each process (Table::select_program): the base name of its argv[0]. Read at the decision, from
  // /proc/TID/cmdline, so an exec since the process's first call is seen; only rules with argv0
  // cost the read.
  bool program_matches(int idx, pid_t tid) const {
    const auto& glob = table->rules()[static_cast<std::size_t>(idx)].match.argv0;
    if (!glob) return true;
    std::FILE* f = std::fopen(("/proc/" + std::to_string(tid) + "/cmdline").c_str(), "re");
    if (!f) return false;
    char buf[4096] = {};
    const std::size_t got = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    const std::string_view argv0(buf, ::strnlen(buf, got));
    const std::size_t slash = argv0.rfind('/');
    // Cut as the preload object's record of it is (kNameLen with its NUL).
    const std::string_view base = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
    return filters::glob_match(*glob, base.substr(0, stats::kNameLen - 1));
  }

  // The rule that fires on this call, if any, goes into the decision log; when its action fails
  // the call, the call is answered with that errno and counted as `failed` (kNoCounter for the
  // calls the preload object counts no failure of: bind, shutdown, socket options) plus one
  // fault, and this returns true (the caller then must not perform the call).
  //
  // A rule with delay_ms/jitter_ms puts the call aside (Delayed) and returns true too: when the
  // delay is over, the call goes through its handler again, with this decision (replay_rule),
  // so the supervisor never sleeps and the rule's hit is counted once.
  bool injected(const seccomp_notif& n, pid_t tgid, filters::CallType t, const filters::SocketFacts& f, Cookie c,
                stats::Counter failed, KnownSocket* ks, const sockaddr_storage* peer = nullptr,
                socklen_t peer_len = 0) {
    int idx = replay_rule;
    if (idx < 0) {
      std::uint64_t hit = 0;
      idx = decide(t, f, &hit, ks, static_cast<pid_t>(n.pid));
      if (idx < 0) return false;
      log_event(n, tgid, t, idx, hit, c, injected_errno(idx), peer, peer_len);
      if (const std::int64_t ms = delay_ms(idx, hit); ms > 0 && delayed.size() < kMaxDelayed) {
        delay(n, idx, ms);
        return true;
      }
    }
    const int err = injected_errno(idx);
    if (!err) return false;
    if (failed != kNoCounter) stats::add(slot(c), failed);
    stats::add(slot(c), stats::kFaultsInjected);
    ++counts.injected;
    answer(n.id, -1, err);
    return true;
  }

  // A call whose rule asked for a delay, as it was received, and when it goes on.
  struct Delayed {
    std::int64_t due_ns = 0;
    std::vector<std::byte> notif;
    int rule = -1;
  };
  std::vector<Delayed> delayed;
  int replay_rule = -1;   // while a delayed call is replayed: the rule that fired on it

  // The rule's delay for hit n: delay_ms plus the seeded jitter the preload object draws, plus a
  // hang's hang_ms (a hang is a delay that then fails the call).
  std::int64_t delay_ms(int idx, std::uint64_t hit) const {
    const filters::Action& a = table->rules()[static_cast<std::size_t>(idx)].action;
    const std::int64_t hang = a.kind == filters::ActionKind::kHang ? a.hang_ms : 0;
    const std::uint64_t jitter =
        a.jitter_ms ? filters::random64(seg.header.seed, static_cast<std::uint32_t>(idx), hit, filters::kDrawJitter) %
                          (a.jitter_ms + 1ull)
                    : 0;
    return static_cast<std::int64_t>(a.delay_ms + jitter) + hang;
  }
  // n is the notification just received into req_buf (a replay never delays again): the whole
  // buffer is kept, the kernel's struct may be larger than the header's.
  void delay(const seccomp_notif& n, int idx, std::int64_t ms) {
    Delayed d;
    d.due_ns = stats::monotonic_ns() + ms * 1'000'000;
    d.notif.assign(req_buf.begin(), req_buf.end());
    std::memcpy(d.notif.data(), &n, std::min(d.notif.size(), sizeof n));
    d.rule = idx;
    delayed.push_back(std::move(d));
  }
  // Milliseconds until the first delayed call is due (at most `cap`), for poll.
  int until_due(int cap) const {
    std::int64_t first = -1;
    for (const Delayed& d : delayed) first = first < 0 ? d.due_ns : std::min(first, d.due_ns);
    for (const Watch& w : watches)
      if (w.held && w.deadline_ns) first = first < 0 ? w.deadline_ns : std::min(first, w.deadline_ns);
    if (first < 0) return cap;
    const std::int64_t ms = (first - stats::monotonic_ns() + 999'999) / 1'000'000;
    return static_cast<int>(std::clamp<std::int64_t>(ms, 0, cap));
  }
  void run_due();
  void time_out_held();

  // The errno a fired rule answers with; 0 when its action lets the call go on.
  int injected_errno(int idx) const {
    const filters::Action& a = table->rules()[static_cast<std::size_t>(idx)].action;
    switch (a.kind) {
      case filters::ActionKind::kFail: return a.err;
      case filters::ActionKind::kEagain: return EAGAIN;
      case filters::ActionKind::kEintr: return EINTR;
      case filters::ActionKind::kHang: return a.err ? a.err : ETIMEDOUT;   // after its hang (delay_ms)
      default: return 0;
    }
  }

  void log_event(const seccomp_notif& n, pid_t tgid, filters::CallType t, int idx, std::uint64_t hit, Cookie cookie,
                 int err, const sockaddr_storage* peer, socklen_t peer_len) {
    std::uint64_t number = 0;
    stats::Event& ev = stats::begin_event(seg, number);
    ev.t_ns = stats::monotonic_ns() - seg.header.created_mono_ns;
    ev.pid = tgid;
    ev.tid = static_cast<std::int32_t>(n.pid);
    ev.fd = t == filters::CallType::kSocket ? -1 : static_cast<std::int32_t>(n.data.args[0]);
    ev.call = static_cast<std::uint16_t>(t);
    ev.rule = static_cast<std::uint16_t>(idx);
    ev.cookie = cookie;
    ev.hit = hit;
    const filters::Rule& r = table->rules()[static_cast<std::size_t>(idx)];
    ev.action = static_cast<std::uint8_t>(r.action.kind);
    ev.after = static_cast<std::uint8_t>(r.then.kind);
    ev.err = err;
    ev.peer[0] = 0;
    if (peer) format_sockaddr(reinterpret_cast<const sockaddr*>(peer), peer_len, ev.peer, sizeof ev.peer);
    stats::publish_event(ev, number);
  }

  void on_socket(const seccomp_notif& n, Proc& p);
  // A connect on the program's fd succeeded or is under way: a client from now on.
  static void became_client(Proc& p, int fd) {
    if (auto k = p.fds.find(fd); k != p.fds.end()) k->second.role = filters::Role::kClient;
  }
  void on_connect(const seccomp_notif& n, Proc& p);
  void on_close(const seccomp_notif& n, Proc& p);
  void on_accept(const seccomp_notif& n, Proc& p);
  void on_listen(const seccomp_notif& n, Proc& p);
  void on_socketpair(const seccomp_notif& n, Proc& p);
  void on_bind(const seccomp_notif& n, Proc& p);
  void on_other(const seccomp_notif& n, Proc& p, filters::CallType t);
  enum class Read : std::uint8_t { kOk, kPass, kGone };
  Read read_sockaddr(const seccomp_notif& n, std::uint64_t addr, socklen_t len, sockaddr_storage& ss);
  bool same_netns(pid_t tid);
  // socket() and socketpair(): their type flags, what the rules see of them, and the cookie
  // before the kernel says its protocol.
  struct NewSocket {
    int type_flags = 0;
    Cookie cookie = 0;
    filters::SocketFacts facts;
  };
  // False when the call is answered already: passed through (a process in another network
  // namespace makes its own, uncounted: ours would be in the wrong one) or failed by a rule.
  bool decide_socket(const seccomp_notif& n, Proc& p, NewSocket& out);
  int add_fd(std::uint64_t id, int fd, bool cloexec, bool send);
  bool accept_into(Proc& p, int dup, Cookie c, const AcceptCall& a, bool held);
  bool copy_peer(const AcceptCall& a, const sockaddr_storage& peer, socklen_t len);
  KnownSocket* socket_at(Proc& p, int fd, int dup);
  struct Local {
    int fd = -1, dup = -1;
    Cookie cookie = 0;
    filters::SocketFacts facts;
    sockaddr_storage shown{};   // for the decision log: the peer, else the local address
    socklen_t shown_len = 0;
    KnownSocket* known = nullptr;   // the entry in its Proc's fds
    char path[112] = {};            // the `path` fact's text (the preload object's kPathBuf)
  };
  bool local_socket(const seccomp_notif& n, Proc& p, filters::CallType t, Local& out);
  void describe(int dup, const KnownSocket& known, filters::CallType t, Local& out);
  static void path_fact(const sockaddr_storage& ss, socklen_t len, Local& out);
  void settle_unix(KnownSocket& k, int dup);
  void connect_stream(const seccomp_notif& n, Proc& p, int dup, Cookie c, const sockaddr_storage& ss, socklen_t len);
  void resolve(Watch& w, bool now);
  void serve_one();
  void dispatch(const seccomp_notif& n);
  void serve_watches(const std::vector<pollfd>& fds, std::size_t first, const std::vector<std::uint64_t>& polled);
  Watch* following(pid_t tgid, int fd, ino_t ino);
  void settle(const Watch& w);
  void connect_again(const seccomp_notif& n, Watch& prior, bool blocking, int r, int e);
  void add_watch(Watch w) {
    w.serial = next_serial++;
    watches.push_back(w);
  }
  void drop_finished();
  static std::int64_t deadline(int dup, int option);
};

// socket(family, type, protocol): made here and given to the program with ADDFD_FLAG_SEND, which
// installs it and answers the call with its number in one step. So the fd number and the
// kernel's protocol are known, and the cookie is the preload object's. A process in another
// network namespace than ours makes its own socket (ours would be in the wrong one), uncounted.
void Supervisor::Impl::on_socket(const seccomp_notif& n, Proc& p) {
  NewSocket ns;
  if (!decide_socket(n, p, ns)) return;
  const int family = ns.facts.family, type = ns.facts.type, type_flags = ns.type_flags;
  Cookie cookie = ns.cookie;
  const int s = ::socket(family, type_flags | SOCK_CLOEXEC, static_cast<int>(n.data.args[2]));
  if (s < 0) {
    const int e = errno;
    stats::add(slot(cookie), stats::kOpenFailed);
    ++counts.performed;
    return answer(n.id, -1, e);
  }
  int kernel_protocol = 0;
  socklen_t len = sizeof kernel_protocol;
  if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &kernel_protocol, &len) == 0) cookie = make_cookie(family, type, kernel_protocol);
  const ino_t ino = inode_of(s);
  const int fd = add_fd(n.id, s, type_flags & SOCK_CLOEXEC, true);
  const int e = errno;
  close(s);
  ++counts.performed;
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
  p.fds[fd] = KnownSocket{cookie, ino};
}

bool Supervisor::Impl::decide_socket(const seccomp_notif& n, Proc& p, NewSocket& out) {
  out.type_flags = static_cast<int>(n.data.args[1]);
  const int family = static_cast<int>(n.data.args[0]);
  const int type = out.type_flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  const int protocol = normal_protocol(family, type, static_cast<int>(n.data.args[2]));
  if (!same_netns(static_cast<pid_t>(n.pid))) {
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
  return &p.fds.insert_or_assign(fd, KnownSocket{make_cookie(family, type, protocol), ino}).first->second;
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
    close(dup);
    ++counts.performed;
    if (r == 0) became_client(p, fd);
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

// TCP: started non-blocking here. A non-blocking socket's program gets the answer at once
// (EINPROGRESS usually) and the outcome is counted when the socket says it; a blocking one's
// call is held until then and answered with the outcome, as the kernel's own wait would.
void Supervisor::Impl::connect_stream(const seccomp_notif& n, Proc& p, int dup, Cookie c, const sockaddr_storage& ss,
                                      socklen_t len) {
  const int fd = static_cast<int>(n.data.args[0]);
  const ino_t ino = inode_of(dup);
  const int flags = fcntl(dup, F_GETFL);
  const bool blocking = flags >= 0 && !(flags & O_NONBLOCK);
  // The flag is the open file's, shared with the program: set only for the one call. A second
  // thread of the program using this socket in that instant would see it non-blocking.
  if (blocking) fcntl(dup, F_SETFL, flags | O_NONBLOCK);
  const int r = ::connect(dup, reinterpret_cast<const sockaddr*>(&ss), len);
  const int e = errno;
  if (blocking) fcntl(dup, F_SETFL, flags);
  ++counts.performed;
  const bool in_progress = r != 0 && (e == EINPROGRESS || e == EALREADY);
  if (r == 0 || in_progress) became_client(p, fd);
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
    add_watch(Watch{Watch::Kind::kConnect, dup, p.tgid, fd, c, blocking, n.id, {}, ino, false,
                    blocking ? deadline(dup, SO_SNDTIMEO) : 0});
    if (!blocking) {
      stats::add(slot(c), stats::kConnectPending);
      answer(n.id, -1, e);
    }
    return;
  }
  close(dup);
  if (pending && blocking) return pass(n.id);   // too many to follow: the kernel waits instead
  if (r == 0) stats::add(slot(c), stats::kConnected);
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
    prior.deadline_ns = deadline(prior.dup, SO_SNDTIMEO);   // a new wait, a new timeout
    return;
  }
  const bool ok = r == 0 || e == EISCONN;
  stats::add(slot(prior.cookie), ok ? stats::kConnected : stats::kConnectFailed);
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
    answer(w.id, 0, err);
  } else {
    // The EINTR an interrupted call's program saw counts as the preload object counts it.
    if (w.interrupted) stats::add(slot(w.cookie), stats::kConnectPending);
    sockaddr_storage peer{};
    socklen_t l = sizeof peer;
    if (getpeername(w.dup, reinterpret_cast<sockaddr*>(&peer), &l) == 0) stats::add(slot(w.cookie), stats::kConnected);
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

// close(fd): counted for a socket we know, when the fd still holds that socket; always CONTINUE,
// so the program's close is the kernel's. A connect we still follow on it is decided first:
// our duplicate must not keep the program's connection open after the program closed it.
void Supervisor::Impl::on_close(const seccomp_notif& n, Proc& p) {
  const int fd = static_cast<int>(n.data.args[0]);
  auto known = p.fds.find(fd);
  if (known == p.fds.end()) return pass(n.id);
  KnownSocket k = known->second;
  p.fds.erase(known);
  // A held accept keeps waiting, as the kernel's blocked accept keeps its reference to the file;
  // so does another thread's held connect. A held connect whose caller left (the EINTR of a
  // signal, not noticed yet) is decided now, as an interrupted one.
  for (Watch& w : watches) {
    if (w.kind != Watch::Kind::kConnect || w.dup < 0 || w.tgid != p.tgid || w.fd != fd) continue;
    if (w.held && valid(w.id)) continue;
    if (w.held) w.held = false, w.interrupted = true;
    resolve(w, true);
  }
  std::erase_if(watches, [](const Watch& w) { return w.dup < 0; });
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
    stats::add(slot(k.cookie), stats::kClosed);
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
    if (port > 0) out.facts.local_port = out.facts.service_port = port;
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
    ++counts.performed;
    stats::add(slot(c), r == 0 ? stats::kListened : stats::kListenFailed);
    answer(n.id, 0, r == 0 ? 0 : e);
  }
  close(dup);
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
  const int fd = add_fd(a.id, s, a.flags & SOCK_CLOEXEC, true);
  const int add_errno = errno;
  close(s);
  if (fd < 0) {
    if (add_errno == ENOENT) ++counts.gone; else answer(a.id, -1, add_errno);
    return true;
  }
  stats::add(slot(c), stats::kAccepted);
  p.fds[fd] = KnownSocket{c, ino, filters::Role::kServer};
  return true;
}

void Supervisor::Impl::serve_one() {
  std::fill(req_buf.begin(), req_buf.end(), std::byte{0});   // the kernel refuses a dirty buffer
  auto* n = reinterpret_cast<seccomp_notif*>(req_buf.data());
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, n) != 0) return;   // ENOENT: the caller left
  ++counts.notifications;
  dispatch(*n);
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
    dispatch(*n);
    replay_rule = -1;
  }
}

void Supervisor::Impl::dispatch(const seccomp_notif& notif) {
  const seccomp_notif* n = &notif;
  Proc* p = procs.of_thread(static_cast<pid_t>(n->pid));
  if (!p) return pass(n->id);
  switch (n->data.nr) {
    case SYS_socket: return on_socket(*n, *p);
    case SYS_connect: return on_connect(*n, *p);
    case SYS_close: return on_close(*n, *p);
    case SYS_listen: return on_listen(*n, *p);
    case SYS_accept:
    case SYS_accept4: return on_accept(*n, *p);
    case SYS_socketpair: return on_socketpair(*n, *p);
    case SYS_bind: return on_bind(*n, *p);
    case SYS_shutdown: return on_other(*n, *p, filters::CallType::kShutdown);
    case SYS_getsockopt: return on_other(*n, *p, filters::CallType::kGetsockopt);
    case SYS_setsockopt: return on_other(*n, *p, filters::CallType::kSetsockopt);
    default: return pass(n->id);   // the filter sends nothing else
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

void Supervisor::Impl::drop_finished() {
  procs.sweep();
  for (Watch& w : watches) {
    const bool process_gone = !procs.has(w.tgid);
    const bool caller_gone = w.held && !valid(w.kind == Watch::Kind::kAccept ? w.accept.id : w.id);
    if (!process_gone && caller_gone && w.kind == Watch::Kind::kConnect) {
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

Supervisor::Supervisor(int listener, stats::Segment& seg, const filters::Table* table)
    : impl_(std::make_unique<Impl>(listener, seg, table)) {}

Supervisor::~Supervisor() {
  for (Watch& w : impl_->watches) close(w.dup);
  close(impl_->listener);   // calls still waiting get ENOSYS from the kernel
}

const SupervisorCounts& Supervisor::counts() const { return impl_->counts; }

int Supervisor::serve(pid_t pid, const std::string& argv0) {
  Impl& s = *impl_;
  s.procs.add_main(pid, argv0);
  const int child = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (child < 0) return -1;
  bool listening = true;
  std::int64_t next_sweep = stats::monotonic_ns() + kSweepNs;
  std::vector<pollfd> fds;
  std::vector<std::uint64_t> polled;
  for (;;) {
    fds.clear();
    polled.clear();
    fds.push_back({child, POLLIN, 0});
    fds.push_back({listening ? s.listener : -1, POLLIN, 0});
    for (const Watch& w : s.watches) {
      fds.push_back({w.dup, w.events(), 0});
      polled.push_back(w.serial);
    }
    const int n = poll(fds.data(), fds.size(), s.until_due(kPollMs));
    if (n < 0 && errno != EINTR) break;
    // Notifications first: a held connect restarted after a signal is then taken over by its
    // new notification (connect_again) before its socket's readiness could count it as
    // interrupted.
    if (n > 0 && (fds[1].revents & POLLIN)) {
      for (int i = 0; i < kBurst; ++i) {
        s.serve_one();
        pollfd more{s.listener, POLLIN, 0};
        if (poll(&more, 1, 0) != 1 || !(more.revents & POLLIN)) break;
      }
    } else if (n > 0 && (fds[1].revents & (POLLHUP | POLLERR))) {
      listening = false;   // every filtered process is gone
    }
    if (n > 0) s.serve_watches(fds, 2, polled);
    if (!s.delayed.empty()) s.run_due();
    s.time_out_held();
    if (stats::monotonic_ns() >= next_sweep) {
      s.drop_finished();
      next_sweep = stats::monotonic_ns() + kSweepNs;
    }
    if (n > 0 && (fds[0].revents & POLLIN)) break;
  }
  close(child);
  int raw = 0;
  while (waitpid(pid, &raw, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return raw;
}

}  // namespace shim::seccomp
