// Connects to HOST:PORT over a TUN device the caller created (gVisor's tun_tcp_connect), sends
// its stdin, half-closes when stdin ends, and copies everything received to stdout. Exit status
// 0 after a clean EOF from the peer; 1, with a line naming the error, otherwise.
//   tun_tcp_connect --tun tun0 --addr 10.77.0.2 --connect 10.77.0.1:8000 < request > reply
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "netstack/samples/poll_loop.h"
#include "netstack/samples/sample_common.h"
#include "netstack/samples/tcp_sample.h"

namespace {

using namespace netstack;

// Sets O_NONBLOCK on fd for the lifetime of this object and restores the old flags after, so
// a terminal or a pipe shared with the shell is left as we found it.
class NonBlocking {
 public:
  explicit NonBlocking(int fd) : fd_(fd), flags_(::fcntl(fd, F_GETFL)) {
    if (flags_ >= 0) (void)::fcntl(fd, F_SETFL, flags_ | O_NONBLOCK);
  }
  ~NonBlocking() {
    if (flags_ >= 0) (void)::fcntl(fd_, F_SETFL, flags_);
  }
  NonBlocking(const NonBlocking&) = delete;
  NonBlocking& operator=(const NonBlocking&) = delete;

 private:
  int fd_, flags_;
};

// "A.B.C.D:PORT" into an address, or nullopt.
std::optional<FullAddress> parse_host_port(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  auto addr = Ipv4Address::parse(std::string_view(s).substr(0, colon));
  char* end = nullptr;
  const long port = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (!addr || *end != '\0' || end == s.c_str() + colon + 1 || port < 1 || port > 65535) return std::nullopt;
  return FullAddress{kAnyNic, *addr, static_cast<std::uint16_t>(port)};
}

// The transfer: stdin -> connection -> peer, peer -> connection -> stdout.
struct Session {
  explicit Session(samples::Connection& c) : conn(c) {}
  samples::Connection& conn;
  bool connected = false;
  int connect_errno = 0;
  bool stdin_done = false;
  std::vector<std::byte> in_buf = std::vector<std::byte>(65536);
  std::vector<std::byte> out;  // received, not yet on stdout
  std::size_t out_sent = 0;
  int stdout_errno = 0;
  static constexpr std::size_t kOutLimit = 1 << 20;  // stop reading the peer beyond this

  void want(std::vector<pollfd>& fds) const {
    if (connected && !stdin_done && conn.flushed()) fds.push_back({STDIN_FILENO, POLLIN, 0});
    if (out_sent < out.size()) fds.push_back({STDOUT_FILENO, POLLOUT, 0});
  }
  void check_connect() {
    if (connected || conn.failed()) return;
    if (conn.endpoint().readiness(kEventOut | kEventErr) == 0) return;
    auto err = conn.endpoint().get_sock_opt(SockOpt::kError);
    if (err && *err == 0) {
      connected = true;
      return;
    }
    connect_errno = err ? static_cast<int>(*err) : EIO;
    conn.fail(Errc::kConnectionRefused, "connect");  // marks it failed; the errno says what
  }
  void pump_stdin(Instant now) {
    if (!connected || conn.failed() || conn.eof()) return;
    while (!stdin_done && conn.flush()) {
      const ssize_t n = ::read(STDIN_FILENO, in_buf.data(), in_buf.size());
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          std::fprintf(stderr, "tun_tcp_connect: reading stdin: %s\n", std::strerror(errno));
          stdin_done = true;
        }
        break;
      }
      if (n == 0) stdin_done = true;
      conn.queue(std::span(in_buf.data(), static_cast<std::size_t>(n)));
    }
    if (stdin_done && conn.flush()) conn.shutdown_write(now);
  }
  void pump_peer() {
    if (!connected) return;
    while (out.size() - out_sent < kOutLimit && !conn.eof() && !conn.failed()) {
      if (out_sent == out.size()) {
        out.clear();
        out_sent = 0;
      }
      const std::size_t at = out.size();
      out.resize(at + 65536);
      const std::size_t n = conn.read(std::span(out.data() + at, 65536));
      out.resize(at + n);
      if (n == 0) break;
    }
  }
  void pump_stdout() {
    while (out_sent < out.size() && stdout_errno == 0) {
      const ssize_t n = ::write(STDOUT_FILENO, out.data() + out_sent, out.size() - out_sent);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) stdout_errno = errno;
        break;
      }
      out_sent += static_cast<std::size_t>(n);
    }
  }
  // After the peer's EOF: nothing more to send either (stdin may still be open), so close our
  // side once what we queued is written.
  bool step(Instant now) {
    check_connect();
    pump_stdin(now);
    pump_peer();
    pump_stdout();
    if (conn.failed() || stdout_errno != 0) return true;
    if (conn.eof() && conn.flush()) conn.shutdown_write(now);
    return conn.eof() && out_sent == out.size() && conn.finished(now);
  }
};

}  // namespace

int main(int argc, char** argv) {
  samples::SampleOptions o;
  std::string target;
  CLI::App app{"Connect to HOST:PORT over a TUN device with the netstack userspace stack, send stdin, "
               "half-close, print what comes back."};
  app.add_option("--tun", o.tun, "TUN device to attach to (created by the caller)")->required();
  app.add_option("--addr", o.addr, "the stack's own IPv4 address, A.B.C.D")->required();
  app.add_option("--connect", target, "peer to connect to, A.B.C.D:PORT")->required();
  samples::add_common_options(app, o);
  CLI11_PARSE(app, argc, argv);
  const auto peer = parse_host_port(target);
  if (!peer) {
    std::fprintf(stderr, "--connect %s: want A.B.C.D:PORT with a port in 1..65535\n", target.c_str());
    return 2;
  }
  samples::install_stop_handlers();
  auto ts = samples::make_tun_stack(o);
  if (!ts) return 1;
  auto made = samples::new_tcp_endpoint(*ts, "tun_tcp_connect");
  if (!made) return 1;
  samples::Connection conn(std::move(made));
  Session session(conn);
  if (auto s = conn.endpoint().connect(*peer); !s && s.error() != Errc::kConnectStarted) {
    std::fprintf(stderr, "tun_tcp_connect: connect to %s: %s\n", target.c_str(), errc_name(s.error()));
    return 1;
  }
  const NonBlocking in_nb(STDIN_FILENO), out_nb(STDOUT_FILENO);
  samples::LoopHooks hooks;
  hooks.fds = [&](std::vector<pollfd>& fds) { session.want(fds); };
  hooks.step = [&](std::span<const pollfd>) { return session.step(ts->clock.now()); };
  const samples::LoopResult r = samples::run_loop(*ts, o, hooks);
  int status = 0;
  if (r == samples::LoopResult::kLinkFailed) {
    std::fprintf(stderr, "tun_tcp_connect: %s: the TUN device failed\n", o.tun.c_str());
    status = 1;
  } else if (r == samples::LoopResult::kTimedOut || r == samples::LoopResult::kStopped) {
    std::fprintf(stderr, "tun_tcp_connect: %s after %llu bytes sent, %llu received (%s)\n",
                 r == samples::LoopResult::kTimedOut ? "timed out" : "stopped",
                 static_cast<unsigned long long>(conn.bytes_written()),
                 static_cast<unsigned long long>(conn.bytes_read()),
                 session.connected ? "connected" : "never connected");
    status = 1;
  } else if (session.connect_errno != 0) {
    std::fprintf(stderr, "tun_tcp_connect: connect to %s: %s\n", target.c_str(),
                 std::strerror(session.connect_errno));
    status = 1;
  } else if (conn.failed()) {
    std::fprintf(stderr, "tun_tcp_connect: %s: %s\n", target.c_str(), conn.outcome().c_str());
    status = 1;
  } else if (session.stdout_errno != 0) {
    std::fprintf(stderr, "tun_tcp_connect: writing stdout: %s\n", std::strerror(session.stdout_errno));
    status = 1;
  } else {
    std::fprintf(stderr, "tun_tcp_connect: %s: %llu bytes sent, %llu received, %s\n", target.c_str(),
                 static_cast<unsigned long long>(conn.bytes_written()),
                 static_cast<unsigned long long>(conn.bytes_read()), conn.outcome().c_str());
  }
  samples::print_stats(*ts);
  return status;
}
