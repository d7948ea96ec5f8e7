// mock_agent: a protocol peer in the style of hyperstart's agent, for chaos tests of the shim.
//
// It listens on two unix stream sockets and serves any number of connections on each, in one
// thread with ppoll, with non-blocking sockets and per-connection buffers, so short reads and
// short writes (the shim's `short` action) never lose or reorder a byte on its side.
//
// Control channel (--ctl PATH); every integer big-endian:
//   frame  = {uint32 command, uint32 length} + `length` payload bytes (length <= 1 MiB)
//   ack    = {kAck 9, 16} + {uint32 command acked, uint32 length received, uint64 FNV-1a(payload)}
//   error  = {kError 10, n} + {uint32 command} + reason text, for an unknown command;
//            a length over 1 MiB is answered the same way and the connection is closed
//   stats  = a kStats frame is answered with {kStats, 48} + six uint64: ctl frames, ctl payload
//            bytes, ctl FNV-1a, io frames, io payload bytes, io FNV-1a. It is not counted itself.
// Known commands: kVersion 0, kPing 12, kWriteFile 15 (payloads are opaque; frames.h).
// I/O channel (--io PATH):
//   frame  = {uint64 sequence, uint32 length} + `length` payload bytes, echoed back unchanged.
// The counters cover every payload received (ctl and io separately, FNV-1a over all bytes in
// arrival order), so a client that kept its own tally can prove no byte was lost.
//
// The control channel uses read/write, the I/O channel recv/send: both families go through the
// shim. Output: "ready" once both sockets listen; at exit one line
//   agent: ctl frames=N bytes=N fnv=HEX io frames=N bytes=N fnv=HEX
// Exit 0 on SIGTERM/SIGINT or after --timeout seconds; 1 when a socket cannot be set up.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "frames.h"

namespace {

using Clock = std::chrono::steady_clock;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

enum class Channel { kCtl, kIo };

struct Conn {
  int fd = -1;
  Channel channel = Channel::kCtl;
  std::vector<std::uint8_t> in;
  std::vector<std::uint8_t> out;
  std::size_t out_off = 0;  // bytes of `out` already written
  bool close_after_flush = false;
  bool dead = false;
};

struct Agent {
  mock::ChannelTally ctl;
  mock::ChannelTally io;
  std::vector<Conn> conns;
};

// A backlog larger than this stops reading from that connection until the peer reads its replies.
constexpr std::size_t kMaxOutBacklog = 4u << 20;

int listen_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "mock_agent: %s: path longer than %zu bytes\n", path.c_str(),
                 sizeof addr.sun_path - 1);
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A socket file left by an earlier agent is stale; any other file is not ours to remove.
  if (struct stat st{}; lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 16) != 0) {
    std::fprintf(stderr, "mock_agent: %s: %s\n", path.c_str(), std::strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

void append_ctl_frame(Conn& c, std::uint32_t command, std::span<const std::uint8_t> payload) {
  std::uint8_t hdr[mock::kCtlHeaderSize];
  mock::store_be32(hdr, command);
  mock::store_be32(hdr + 4, static_cast<std::uint32_t>(payload.size()));
  c.out.insert(c.out.end(), hdr, hdr + sizeof hdr);
  c.out.insert(c.out.end(), payload.begin(), payload.end());
}

void append_error(Conn& c, std::uint32_t command, std::string_view reason) {
  std::vector<std::uint8_t> p(4);
  mock::store_be32(p.data(), command);
  p.insert(p.end(), reason.begin(), reason.end());
  append_ctl_frame(c, mock::kError, p);
}

void answer_ctl(Agent& a, Conn& c, std::uint32_t command, std::span<const std::uint8_t> payload) {
  if (command == mock::kStats) {
    std::uint8_t p[mock::kStatsSize];
    const std::uint64_t v[6] = {a.ctl.frames, a.ctl.bytes, a.ctl.fnv.value(),
                                a.io.frames,  a.io.bytes,  a.io.fnv.value()};
    for (int i = 0; i < 6; ++i) mock::store_be64(p + 8 * i, v[i]);
    append_ctl_frame(c, mock::kStats, p);
    return;
  }
  a.ctl.add(payload);
  if (command != mock::kVersion && command != mock::kPing && command != mock::kWriteFile) {
    append_error(c, command, "unknown command");
    return;
  }
  std::uint8_t p[mock::kAckSize];
  mock::store_be32(p, command);
  mock::store_be32(p + 4, static_cast<std::uint32_t>(payload.size()));
  mock::store_be64(p + 8, mock::Fnv::of(payload));
  append_ctl_frame(c, mock::kAck, p);
}

// Consumes every complete frame at the front of c.in and queues its answer.
void handle_input(Agent& a, Conn& c) {
  const std::size_t hdr = c.channel == Channel::kCtl ? mock::kCtlHeaderSize : mock::kIoHeaderSize;
  std::size_t off = 0;
  while (!c.close_after_flush && c.in.size() - off >= hdr) {
    const std::uint8_t* h = c.in.data() + off;
    const std::uint32_t len = mock::load_be32(h + hdr - 4);
    if (len > mock::kMaxPayload) {  // the stream cannot be resynchronised: close it
      std::fprintf(stderr, "mock_agent: %s frame of %u bytes: over the 1 MiB limit, closing\n",
                   c.channel == Channel::kCtl ? "ctl" : "io", len);
      if (c.channel == Channel::kCtl) append_error(c, mock::load_be32(h), "frame too long");
      c.close_after_flush = true;
      if (c.out.size() == c.out_off) c.dead = true;
      break;
    }
    if (c.in.size() - off - hdr < len) break;
    const std::span<const std::uint8_t> payload(h + hdr, len);
    if (c.channel == Channel::kCtl) {
      answer_ctl(a, c, mock::load_be32(h), payload);
    } else {
      a.io.add(payload);
      c.out.insert(c.out.end(), h, h + hdr + len);  // echo, same sequence number
    }
    off += hdr + len;
  }
  c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(off));
}

void read_some(Agent& a, Conn& c) {
  std::uint8_t buf[64 * 1024];
  const ssize_t n =
      c.channel == Channel::kCtl ? read(c.fd, buf, sizeof buf) : recv(c.fd, buf, sizeof buf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {  // reset: nothing can be answered
    c.dead = true;
    return;
  }
  if (n == 0) {  // the peer is done sending: answer what it sent, then close
    c.close_after_flush = true;
    if (c.out.size() == c.out_off) c.dead = true;
    return;
  }
  c.in.insert(c.in.end(), buf, buf + n);
  handle_input(a, c);
}

void write_some(Conn& c) {
  const std::uint8_t* p = c.out.data() + c.out_off;
  const std::size_t len = c.out.size() - c.out_off;
  const ssize_t n =
      c.channel == Channel::kCtl ? write(c.fd, p, len) : send(c.fd, p, len, MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {
    c.dead = true;
    return;
  }
  c.out_off += static_cast<std::size_t>(n);
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
    if (c.close_after_flush) c.dead = true;
  }
}

void accept_all(Agent& a, int listener, Channel channel) {
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error: the next POLLIN retries
    Conn c;
    c.fd = fd;
    c.channel = channel;
    a.conns.push_back(std::move(c));
  }
}

// One ppoll round. SIGTERM is blocked except inside ppoll, so a signal never slips in between
// the g_stop check and the wait.
void serve_once(Agent& a, int ctl_l, int io_l, int timeout_ms, const sigset_t& wait_mask) {
  std::vector<pollfd> pfds{{ctl_l, POLLIN, 0}, {io_l, POLLIN, 0}};
  for (const Conn& c : a.conns) {
    short ev = 0;
    if (!c.close_after_flush && c.out.size() - c.out_off < kMaxOutBacklog) ev |= POLLIN;
    if (c.out.size() > c.out_off) ev |= POLLOUT;
    pfds.push_back({c.fd, ev, 0});
  }
  const timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  if (ppoll(pfds.data(), pfds.size(), &ts, &wait_mask) <= 0) return;
  if (pfds[0].revents & POLLIN) accept_all(a, ctl_l, Channel::kCtl);
  if (pfds[1].revents & POLLIN) accept_all(a, io_l, Channel::kIo);
  for (std::size_t i = 2; i < pfds.size(); ++i) {
    Conn& c = a.conns[i - 2];
    if (!c.close_after_flush && (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) read_some(a, c);
    if (c.close_after_flush && (pfds[i].revents & (POLLHUP | POLLERR))) c.dead = true;
    if (!c.dead && (pfds[i].revents & POLLOUT)) write_some(c);
  }
  std::erase_if(a.conns, [](const Conn& c) {
    if (c.dead) close(c.fd);
    return c.dead;
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "A hyperstart-style mock agent: acks framed commands on a control socket and echoes\n"
      "sequenced frames on an I/O socket (unix stream). Prints \"ready\" when both listen\n"
      "and its byte tally at exit. Protocol: tests/mock/README.md."};
  std::string ctl_path, io_path;
  double timeout_s = 0;
  app.add_option("--ctl", ctl_path, "Control socket path (8-byte {command, length} frames)")
      ->required();
  app.add_option("--io", io_path, "I/O socket path (12-byte {sequence, length} frames)")
      ->required();
  app.add_option("--timeout", timeout_s, "Stop after this many seconds (0: only on SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  signal(SIGPIPE, SIG_IGN);
  sigset_t block, wait_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &wait_mask);
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGINT);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  const int ctl_l = listen_unix(ctl_path);
  const int io_l = ctl_l < 0 ? -1 : listen_unix(io_path);
  if (io_l < 0) return 1;
  std::printf("ready\n");
  std::fflush(stdout);

  Agent agent;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  const char* why = "signal";
  while (!g_stop) {
    int wait_ms = 1000;
    if (timeout_s > 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        why = "timeout";
        break;
      }
      wait_ms = static_cast<int>(std::min<std::int64_t>(left.count(), wait_ms));
    }
    serve_once(agent, ctl_l, io_l, wait_ms, wait_mask);
  }
  for (const Conn& c : agent.conns) close(c.fd);
  close(ctl_l);
  close(io_l);
  unlink(ctl_path.c_str());
  unlink(io_path.c_str());
  std::printf("agent: ctl frames=%" PRIu64 " bytes=%" PRIu64 " fnv=%016" PRIx64
              " io frames=%" PRIu64 " bytes=%" PRIu64 " fnv=%016" PRIx64 "\n",
              agent.ctl.frames, agent.ctl.bytes, agent.ctl.fnv.value(), agent.io.frames,
              agent.io.bytes, agent.io.fnv.value());
  std::fprintf(stderr, "mock_agent: stopped (%s)\n", why);
  return 0;
}
