// The supervisor's state and the helpers its two files share (shim/seccomp/supervisor.cc: the
// notifications and what each call does; supervisor_held.cc: the calls it follows or holds
// afterwards, with their signals, timeouts and delays). Private to those two files.
#pragma once

#include "shim/seccomp/supervisor.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <memory>
#include <mutex>
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

constexpr int kPollMs = 200;              // how often a quiet loop looks at the command and the processes
constexpr int kSignalPollMs = 10;         // how often held calls' threads are looked at for signals
constexpr std::size_t kSignalChecks = 64; // held threads looked at per round, in turn
// The kernel's "interrupted, restart unless the handler says otherwise" (include/linux/errno.h):
// a held call answered with it behaves as the kernel's own interrupted wait (signal_pending).
constexpr int kErestartsys = 512;
constexpr int kBurst = 64;                // notifications served per wake before the others get a look
constexpr std::size_t kMaxWatches = 4096; // pending connects followed at once; beyond, uncounted
constexpr std::int64_t kSweepNs = 1'000'000'000;
constexpr stats::Counter kNoCounter = stats::kCounterCount;
constexpr std::size_t kMaxDelayed = 4096; // calls waiting out a rule's delay at once; beyond, no delay

inline int pidfd_getfd(int pidfd, int fd) { return static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0)); }

// The protocol as the kernel reports it (TCP is 6 when the program passed 0), for the cookie.
inline int normal_protocol(int family, int type, int protocol) {
  if (protocol != 0 || (family != AF_INET && family != AF_INET6)) return protocol;
  if (type == SOCK_STREAM) return IPPROTO_TCP;
  if (type == SOCK_DGRAM) return IPPROTO_UDP;
  return protocol;
}

inline int port_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return -1;
}

inline ino_t inode_of(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

// The port the socket is bound to (getsockname); 0 when none or not inet.
inline int own_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd < 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  const int port = port_of(ss);
  return port > 0 ? port : 0;
}

inline ino_t own_netns() {
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

// Descriptors the supervisor holds for a transfer (a sendmsg's SCM_RIGHTS, taken from the
// program): closed when the transfer is done with, however it ends.
struct OwnedFds {
  std::vector<int> fds;
  OwnedFds() = default;
  OwnedFds(const OwnedFds&) = delete;
  OwnedFds& operator=(const OwnedFds&) = delete;
  ~OwnedFds() {
    for (int fd : fds) ::close(fd);
  }
};

// A send or receive the supervisor performs on the program's behalf (supervisor_io.cc): the
// program's buffers (addresses in its memory), read or written with process_vm_readv/writev, and
// what a fired rule changes. Held (in a Watch) while a blocking call waits for its socket.
struct Transfer {
  std::uint64_t id = 0;
  pid_t tid = -1, tgid = -1;
  int fd = -1;
  long nr = 0;                        // the system call
  std::uint64_t args[6] = {};         // as the program made it: a restart has the same
  bool send = false, stream = false, blocking = false;
  int flags = 0;                      // the program's MSG_* flags (read and write: 0)
  std::vector<iovec> iov;             // the program's buffers
  std::uint64_t total = 0;            // bytes they hold
  std::uint64_t limit = UINT64_MAX;   // a rule's `short`, or the bytes left before an after_bytes
  sockaddr_storage to{};              // sendto/sendmsg: the destination (to_len 0: none)
  socklen_t to_len = 0;
  std::uint64_t name = 0, name_len = 0;   // recvfrom, recvmsg: where the source address and its length go
  std::uint64_t msg = 0;              // recvmsg: the program's msghdr, for msg_flags
  // sendmsg, recvmsg: the program's msg_control and msg_controllen. A send's control bytes are
  // kept with our duplicates' numbers in its SCM_RIGHTS (rights owns them), sent with the first
  // bytes; a receive's descriptors are installed in the program and their numbers written back.
  std::uint64_t control = 0, control_len = 0;
  std::vector<unsigned char> cmsg;
  std::shared_ptr<OwnedFds> rights;
  std::uint64_t done = 0;             // a held MSG_WAITALL receive: bytes given already
  Cookie cookie = 0;
  ino_t ino = 0;
  int rule = -1;                      // the rule that fired, for `then`, `corrupt`, `duplicate`
  std::uint64_t hit = 0;
  filters::After then{};
  std::uint64_t corrupt_bits = 0;
  bool duplicate = false;
  // sendfile: the file its bytes come from (our duplicate of in_fd, read with pread), where the
  // program keeps its offset (0: it passed none, and the file's position, which the duplicate
  // shares, moves instead), and where in the file this call starts reading.
  std::shared_ptr<OwnedFds> file;
  std::uint64_t offset_at = 0;
  std::int64_t file_start = 0;
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
  enum class Kind : std::uint8_t { kConnect, kAccept, kTransfer };
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
  std::shared_ptr<Transfer> xfer{};   // kTransfer: the held send or receive (id is its notification)
  pid_t connect_tid = -1;             // kConnect: the thread whose call is held
  // The thread whose call is held: the one a signal to interrupt it goes to.
  pid_t caller() const {
    if (kind == Kind::kAccept) return accept.tid;
    if (kind == Kind::kTransfer) return xfer->tid;
    return connect_tid;
  }
  short events() const {
    if (kind == Kind::kTransfer) return xfer->send ? POLLOUT : POLLIN;
    return kind == Kind::kAccept ? POLLIN : POLLOUT;
  }
};


// Threads (docs/shim.md, "Many threads at once"): kWorkers threads wait in
// SECCOMP_IOCTL_NOTIF_RECV (the kernel hands each notification to one of them) and handle what
// they received under `mu`; the thread in serve() follows the held calls (watches, delays,
// signals, timeouts) under `mu` too. Everything below is guarded by mu, but for what a thread
// keeps to itself (its notification and answer buffers, its outbox) and the atomics.
// The answers a handler gives (answer, pass) wait in its thread's outbox until mu is released:
// the ioctl that wakes the program runs while another thread handles the next call.
struct Answer {
  std::uint64_t id;
  std::int64_t val;
  int err;
  bool cont;
};
struct ThreadBufs {
  std::vector<std::byte> req, resp;
  std::vector<Answer>* outbox = nullptr;   // null: answers go out at once
  std::unique_lock<std::mutex>* lock = nullptr;   // a worker's hold on mu while it handles a call
  // The call in hand is a socket() or socketpair() whose thread's network namespace was looked
  // at before mu was taken (serve_one): the stat of /proc/TID/ns/net costs a few µs that no
  // other call should wait for. Otherwise decide_socket looks itself.
  bool netns_checked = false, netns_same = false;
};

struct Supervisor::Impl {
  int listener;
  stats::Segment& seg;
  const filters::Table* table;
  std::mutex mu;
  ProcTable procs;
  SupervisorCounts counts;
  std::atomic<std::uint64_t> gone_unlocked{0};   // answers sent from an outbox that found no caller
  std::vector<Watch> watches;
  std::uint64_t next_serial = 1;
  std::size_t notif_size = 0, resp_size = 0;
  int wake_fd = -1;
  std::atomic<int> workers_running{0};
  std::atomic<bool> stopping{false};   // serve() is ending: the workers leave
  std::mutex recv_mu;                  // the turn to wait in NOTIF_RECV (serve_one; never with mu)   // an eventfd: a worker added a watch or a delay, serve()'s poll looks again
  ino_t netns = own_netns();
  static ThreadBufs& bufs() {
    static thread_local ThreadBufs b;
    return b;
  }
  std::vector<std::byte>& req_buf() {
    ThreadBufs& b = bufs();
    if (b.req.size() != notif_size) b.req.assign(notif_size, std::byte{0});
    return b.req;
  }

  // The program's wait is killable only once we received a call (WAIT_KILLABLE_RECV): a call
  // we hold cannot be ended by a signal behind our back.
  bool killable = false;

  Impl(int l, stats::Segment& s, const filters::Table* t, bool k)
      : listener(l), seg(s), table(t), procs(s), killable(k) {
    seccomp_notif_sizes sizes{};
    syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
    // The kernel's structs may be larger than the headers' (new fields): size buffers for both.
    notif_size = std::max<std::size_t>(sizes.seccomp_notif, sizeof(seccomp_notif));
    resp_size = std::max<std::size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp));
  }

  bool valid(std::uint64_t id) { return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0; }

  // err: a positive errno to fail the call with, 0 to return val. False when the caller is gone
  // (killed, or a signal ended its wait: its EINTR, or its restart, a new notification).
  // answer() and pass() go into the thread's outbox when it has one (flush, after mu is
  // released); reply() answers at once, for the callers that need to know it arrived.
  void answer(std::uint64_t id, std::int64_t val, int err, bool cont = false) {
    if (std::vector<Answer>* out = bufs().outbox) return out->push_back({id, val, err, cont});
    reply(id, val, err, cont);
  }
  // Sends the outbox's answers; called without mu.
  void flush() {
    std::vector<Answer>* out = bufs().outbox;
    if (!out) return;
    for (const Answer& a : *out)
      if (!send_answer(a.id, a.val, a.err, a.cont)) gone_unlocked.fetch_add(1, std::memory_order_relaxed);
    out->clear();
  }
  bool reply(std::uint64_t id, std::int64_t val, int err, bool cont = false) {
    const bool ok = send_answer(id, val, err, cont);
    if (!ok) ++counts.gone;
    return ok;
  }
  bool send_answer(std::uint64_t id, std::int64_t val, int err, bool cont) {
    ThreadBufs& b = bufs();
    b.resp.assign(resp_size, std::byte{0});
    auto* r = reinterpret_cast<seccomp_notif_resp*>(b.resp.data());
    r->id = id;
    r->val = val;
    r->error = err ? -err : 0;
    r->flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
    // EINTR (a signal `sockshim run` forwards) must not leave the call unanswered for good.
    int rc = 0;
    for (int i = 0; i < 8 && (rc = ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, r)) != 0 && errno == EINTR; ++i) {
    }
    return rc == 0;
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
  //
  // The socket's bytes and connect time (after_bytes, after_connected_ms) come from ks. *limit,
  // when given: a stream send or receive the rule does not select yet because it is short of
  // after_bytes moves at most the bytes up to it, so the fault lands on the byte the rule names.
  int decide(filters::CallType t, const filters::SocketFacts& f, std::uint64_t* hit, KnownSocket* ks, pid_t tid,
             std::uint64_t* limit = nullptr) {
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
    if (ks) {
      // Bytes before this call: sent for a send, received for a recv, both for any other call.
      h.socket_bytes = t == filters::CallType::kSend ? ks->sent : t == filters::CallType::kRecv ? ks->recvd : ks->sent + ks->recvd;
      if (ks->connected_at) h.connected_ms = static_cast<std::int64_t>(elapsed_ms()) - static_cast<std::int64_t>(ks->connected_at - 1);
    }
    if (!w.selects(h, seg.header.seed, static_cast<std::uint32_t>(idx))) {
      if (limit && w.after_bytes && h.socket_bytes < *w.after_bytes) {
        filters::Hit at = h;
        at.socket_bytes = *w.after_bytes;
        if (w.selects(at, seg.header.seed, static_cast<std::uint32_t>(idx)))
          *limit = std::min<std::uint64_t>(*limit, *w.after_bytes - h.socket_bytes);
      }
      return -1;
    }
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
        delay(n, idx, ms, hit);
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
    std::uint64_t hit = 0;
  };
  std::vector<Delayed> delayed;
  // While a delayed call is replayed (by serve()'s thread): the rule that fired on it and the hit
  // it fired on (corrupt's seeded bits). The replaying thread's own: a worker that lets mu go
  // meanwhile (Unlocked) must not lend them to another's call.
  static inline thread_local int replay_rule = -1;
  static inline thread_local std::uint64_t replay_hit = 0;

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
  void delay(const seccomp_notif& n, int idx, std::int64_t ms, std::uint64_t hit = 0) {
    Delayed d;
    d.hit = hit;
    d.due_ns = stats::monotonic_ns() + ms * 1'000'000;
    const std::vector<std::byte>& req = req_buf();
    d.notif.assign(req.begin(), req.end());
    std::memcpy(d.notif.data(), &n, std::min(d.notif.size(), sizeof n));
    d.rule = idx;
    delayed.push_back(std::move(d));
    wake();
  }
  // serve()'s poll must look again: a watch or a delay was added by a worker.
  void wake() const {
    if (wake_fd < 0) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t r = ::write(wake_fd, &one, sizeof one);
  }
  // Milliseconds until the first delayed call is due (at most `cap`), for poll.
  int until_due(int cap) const {
    // Held and delayed calls wait killable (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV): their
    // signals are looked for this often (interrupt_signalled).
    bool holding = !delayed.empty() || pending_execs > 0;
    for (const Watch& w : watches) holding = holding || w.held;
    if (holding) cap = std::min(cap, kSignalPollMs);
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
  void interrupt_signalled();
  std::size_t signal_cursor = 0;   // where interrupt_signalled's next round starts

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
  static void became_client(Proc& p, int fd, int peer_port = 0) {
    if (auto k = p.fds.find(fd); k != p.fds.end()) {
      k->second.role = filters::Role::kClient;
      if (peer_port > 0) k->second.peer_port = peer_port;
    }
  }
  void on_connect(const seccomp_notif& n, Proc& p);
  void on_close(const seccomp_notif& n, Proc& p);
  void on_dup(const seccomp_notif& n, Proc& p);
  void on_exec(const seccomp_notif& n, Proc& p);
  void on_wait(const seccomp_notif& n, Proc& p);
  void find_children(Proc& p);   // registers the children of p the supervisor does not know
  // Whether p's pending exec replaced its image, when that can be told now (caller: the thread
  // of the call being handled, -1 for none); then its records and sockets follow.
  void check_exec(Proc& p, pid_t caller);
  void check_execs();   // every process with a pending exec (serve()'s thread, each round)
  std::size_t pending_execs = 0;
  void on_close_range(const seccomp_notif& n, Proc& p);
  // The number fd of p no longer names socket k (closed, or a dup2 put another file there):
  // connects followed on it are decided, and `closed` is counted as the preload object counts it.
  void number_closed(Proc& p, int fd, const KnownSocket& k);
  void decide_connects_on(Proc& p, int fd);
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
  bool serve_one(std::unique_lock<std::mutex>& turn);
  void dispatch(const seccomp_notif& n);
  void serve_watches(const std::vector<pollfd>& fds, std::size_t first, const std::vector<std::uint64_t>& polled);
  Watch* following(pid_t tgid, int fd, ino_t ino);
  void settle(const Watch& w);
  void connect_again(const seccomp_notif& n, Watch& prior, bool blocking, int r, int e);
  void add_watch(Watch w) {
    w.serial = next_serial++;
    watches.push_back(w);
    wake();
  }
  void work();   // a worker thread: receive, handle under mu, answer
  // A worker lets the others in for the length of a system call that touches nothing shared
  // (a socket being made, a connect on our duplicate); serve()'s thread keeps mu. After it, a
  // Proc& held before may be gone (sweep): find it again by tgid.
  struct Unlocked {
    Unlocked() : l(bufs().lock) {
      if (l) l->unlock();
    }
    ~Unlocked() {
      if (l) l->lock();
    }
    Unlocked(const Unlocked&) = delete;
    Unlocked& operator=(const Unlocked&) = delete;
    std::unique_lock<std::mutex>* l;
  };
  void drop_finished();
  // Sends and receives (supervisor_io.cc).
  void on_transfer(const seccomp_notif& n, Proc& p);
  enum class Parse : std::uint8_t { kOk, kPass, kGone };
  Parse parse_transfer(const seccomp_notif& n, Transfer& x);
  bool decide_transfer(const seccomp_notif& n, Proc& p, Transfer& x, KnownSocket& known, int dup);
  // Moves the bytes on dup and answers: true. False when the call is held instead (a new watch
  // owns dup; held: the watch that was polled goes on).
  bool run_transfer(const std::shared_ptr<Transfer>& x, int dup, bool held);
  bool parse_msghdr(Transfer& x, std::uint64_t at);
  static bool sum_iov(Transfer& x);
  void transfer_mmsg(Transfer& x, int dup, std::uint64_t vec, unsigned vlen);
  std::int64_t drop_mmsg(Transfer& x, std::uint64_t vec, unsigned vlen);
  long send_once(Transfer& x, int dup, int& err);
  long recv_once(Transfer& x, int dup, int& err, std::uint64_t& shown);
  void count_transfer(const Transfer& x, std::uint64_t bytes);
  bool creds_wanted(const Transfer& x, KnownSocket& k, int dup);
  bool take_rights(Transfer& x, int pidfd);
  static bool take_file(Transfer& x, int pidfd, int in_fd);
  static void file_moved(const Transfer& x, std::uint64_t sent);
  void give_control(Transfer& x, msghdr& m);
  KnownSocket* known_of(pid_t tgid, int fd, ino_t ino) {
    Proc* p = procs.find(tgid);
    if (!p) return nullptr;
    auto k = p->fds.find(fd);
    return k != p->fds.end() && k->second.ino == ino ? &k->second : nullptr;
  }
  // The socket connected (or was accepted) now: after_connected_ms counts from here.
  void stamp_connected(pid_t tgid, int fd, ino_t ino) {
    if (KnownSocket* k = known_of(tgid, fd, ino)) k->connected_at = elapsed_ms() + 1;
  }
  std::vector<unsigned char> io_buf;   // the bytes of the transfer in hand
  // A transfer whose bytes moved but whose answer found the caller gone: a signal ended its wait
  // after we received it. Its restart (SA_RESTART), or the program asking again after EINTR,
  // comes with the same arguments and gets this answer, not a second transfer (which would send
  // the bytes twice, or take the next ones while these sit in its buffer).
  struct Moved {
    pid_t tid = -1;
    long nr = 0;
    std::uint64_t args[6] = {};
    std::int64_t val = 0;
    int err = 0;
    std::int64_t until_ns = 0;
  };
  std::vector<Moved> moved_unanswered;
  void answer_moved(const Transfer& x, std::int64_t val, int err);
  bool answered_before(const seccomp_notif& n);
  static std::int64_t deadline(int dup, int option);
};

}  // namespace shim::seccomp
