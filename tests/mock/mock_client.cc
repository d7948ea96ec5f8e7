// mock_client: drives mock_agent's control and I/O channels and checks every reply.
//
// It sends --commands control frames and --frames I/O frames (interleaved, one at a time: send a
// frame, read its answer), with payload sizes from 0 to --max-size and payload bytes drawn from
// --seed, so two runs with the same options send the same bytes. Every ack must name the command,
// the length and the FNV-1a of the payload sent; every echo must carry the same sequence number
// and bytes; the frame at index commands/2 uses an unknown command and must get an error frame.
// At the end a kStats request must report exactly the client's own tally (no byte lost).
//
// Default (careful): loops on short reads and short writes. --naive: one write() per frame and
// one read() for a header and one for a payload, as code that assumes a read returns a whole frame;
// a short transfer is reported as the mismatch it causes. Both wait with poll() against one
// deadline (--timeout), so a silent or dead agent ends the run instead of hanging it.
// Exit 0: everything matched, and one line "client: ctl frames=.. bytes=.. fnv=.. io ..." in the
// agent's format. Exit 1: one line naming the first mismatch (channel, frame index, got, want).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "frames.h"

namespace {

using Clock = std::chrono::steady_clock;

// The first mismatch; main prints it and exits 1.
struct Mismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

__attribute__((format(printf, 1, 2))) std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

// splitmix64: the payload sizes and bytes, reproducible from --seed.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t s_;
};

// Index 0 is empty and index 1 the largest; otherwise one frame in four is any size up to `max`
// and the rest are small, so a run mixes many header-sized transfers with a few large ones.
std::vector<std::uint8_t> make_payload(Rng& rng, std::size_t index, std::uint32_t max) {
  std::uint32_t size = 0;
  if (index == 1)
    size = max;
  else if (index > 1)
    size = static_cast<std::uint32_t>(rng.next() % 4 == 0 ? rng.next() % (max + 1ull)
                                                          : rng.next() % 300);
  std::vector<std::uint8_t> p(size);
  for (auto& b : p) b = static_cast<std::uint8_t>(rng.next());
  return p;
}

// One connected socket with the run's deadline. `careful` decides whether short transfers are
// continued (careful) or reported (naive). use_rw picks read/write over recv/send, as the agent
// does.
class Link {
 public:
  Link(const std::string& path, bool use_rw, bool careful, Clock::time_point deadline,
       double timeout_s)
      : use_rw_(use_rw), careful_(careful), deadline_(deadline), timeout_s_(timeout_s) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) throw Mismatch(path + ": path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
      throw Mismatch(fmt("connect %s: %s", path.c_str(), std::strerror(errno)));
    // Non-blocking: every wait is a poll() against the deadline.
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~Link() { close(fd_); }
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  void send_all(const std::vector<std::uint8_t>& bytes, const std::string& what) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      wait(POLLOUT, what, done, bytes.size());
      const std::uint8_t* p = bytes.data() + done;
      const ssize_t n = use_rw_ ? write(fd_, p, bytes.size() - done)
                                : send(fd_, p, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) throw Mismatch(fmt("%s: %s: %s", what.c_str(), out_call(), std::strerror(errno)));
      done += static_cast<std::size_t>(n);
      if (!careful_ && done < bytes.size())
        throw Mismatch(fmt("%s: one %s() sent %zu bytes, want %zu", what.c_str(), out_call(), done,
                           bytes.size()));
    }
  }

  void recv_exact(std::uint8_t* out, std::size_t want, const std::string& what) {
    std::size_t done = 0;
    while (done < want) {
      wait(POLLIN, what, done, want);
      const ssize_t n =
          use_rw_ ? read(fd_, out + done, want - done) : recv(fd_, out + done, want - done, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) throw Mismatch(fmt("%s: %s: %s", what.c_str(), in_call(), std::strerror(errno)));
      if (n == 0)
        throw Mismatch(
            fmt("%s: connection closed after %zu of %zu bytes", what.c_str(), done, want));
      done += static_cast<std::size_t>(n);
      if (!careful_ && done < want)
        throw Mismatch(
            fmt("%s: one %s() returned %zu bytes, want %zu", what.c_str(), in_call(), done, want));
    }
  }

 private:
  const char* out_call() const { return use_rw_ ? "write" : "send"; }
  const char* in_call() const { return use_rw_ ? "read" : "recv"; }

  void wait(short events, const std::string& what, std::size_t done, std::size_t want) {
    for (;;) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      pollfd p{fd_, events, 0};
      const int r = left > 0 ? poll(&p, 1, static_cast<int>(left)) : 0;
      if (r > 0) return;  // ready, or an error/hangup the next call reports
      if (r < 0 && errno == EINTR) continue;
      throw Mismatch(fmt("%s: timed out after %g s with %zu of %zu bytes", what.c_str(), timeout_s_,
                         done, want));
    }
  }

  int fd_ = -1;
  bool use_rw_;
  bool careful_;
  Clock::time_point deadline_;
  double timeout_s_;
};

void expect_eq(const std::string& what, std::uint64_t got, std::uint64_t want) {
  if (got != want)
    throw Mismatch(fmt("%s: got %" PRIu64 " (0x%" PRIx64 "), want %" PRIu64 " (0x%" PRIx64 ")",
                       what.c_str(), got, got, want, want));
}

struct Run {
  Link& ctl;
  Link& io;
  mock::ChannelTally ctl_tally;
  mock::ChannelTally io_tally;
};

// Sends control frame i and checks its ack (or, for the unknown command, its error frame).
void ctl_frame(Run& r, std::size_t i, std::uint32_t command,
               const std::vector<std::uint8_t>& payload) {
  const std::string what = fmt("ctl frame %zu (command %u, %zu bytes)", i, command, payload.size());
  std::vector<std::uint8_t> frame(mock::kCtlHeaderSize);
  mock::store_be32(frame.data(), command);
  mock::store_be32(frame.data() + 4, static_cast<std::uint32_t>(payload.size()));
  frame.insert(frame.end(), payload.begin(), payload.end());
  r.ctl.send_all(frame, what + ": send");
  r.ctl_tally.add(payload);

  std::uint8_t hdr[mock::kCtlHeaderSize];
  r.ctl.recv_exact(hdr, sizeof hdr, what + ": reply header");
  const bool unknown = command == mock::kUnknownForTest;
  expect_eq(what + ": reply command", mock::load_be32(hdr), unknown ? mock::kError : mock::kAck);
  const std::uint32_t len = mock::load_be32(hdr + 4);
  if (!unknown) expect_eq(what + ": ack length", len, mock::kAckSize);
  if (len < 4 || len > 4096)
    throw Mismatch(fmt("%s: reply length %u out of range", what.c_str(), len));
  std::vector<std::uint8_t> reply(len);
  r.ctl.recv_exact(reply.data(), len, what + ": reply payload");
  expect_eq(what + ": command acked", mock::load_be32(reply.data()), command);
  if (unknown) return;
  expect_eq(what + ": length acked", mock::load_be32(reply.data() + 4), payload.size());
  expect_eq(what + ": FNV-1a acked", mock::load_be64(reply.data() + 8), mock::Fnv::of(payload));
}

// Sends I/O frame i and checks that the echo carries the same sequence number and bytes.
void io_frame(Run& r, std::size_t i, const std::vector<std::uint8_t>& payload) {
  const std::uint64_t seq = 0x0100000000000000ull + i;  // high bits set: a 32-bit truncation shows
  const std::string what =
      fmt("io frame %zu (sequence %" PRIu64 ", %zu bytes)", i, seq, payload.size());
  std::vector<std::uint8_t> frame(mock::kIoHeaderSize);
  mock::store_be64(frame.data(), seq);
  mock::store_be32(frame.data() + 8, static_cast<std::uint32_t>(payload.size()));
  frame.insert(frame.end(), payload.begin(), payload.end());
  r.io.send_all(frame, what + ": send");
  r.io_tally.add(payload);

  std::uint8_t hdr[mock::kIoHeaderSize];
  r.io.recv_exact(hdr, sizeof hdr, what + ": echo header");
  expect_eq(what + ": echo sequence", mock::load_be64(hdr), seq);
  expect_eq(what + ": echo length", mock::load_be32(hdr + 8), payload.size());
  std::vector<std::uint8_t> echo(payload.size());
  if (!echo.empty()) r.io.recv_exact(echo.data(), echo.size(), what + ": echo payload");
  for (std::size_t k = 0; k < echo.size(); ++k)
    if (echo[k] != payload[k])
      throw Mismatch(
          fmt("%s: echo byte %zu: got 0x%02x, want 0x%02x", what.c_str(), k, echo[k], payload[k]));
}

// The agent's counters must equal the client's: nothing lost, duplicated or reordered.
void check_stats(Run& r) {
  const std::vector<std::uint8_t> req(mock::kCtlHeaderSize, 0);
  std::vector<std::uint8_t> frame = req;
  mock::store_be32(frame.data(), mock::kStats);
  r.ctl.send_all(frame, "stats request: send");
  std::uint8_t hdr[mock::kCtlHeaderSize];
  r.ctl.recv_exact(hdr, sizeof hdr, "stats reply header");
  expect_eq("stats reply command", mock::load_be32(hdr), mock::kStats);
  expect_eq("stats reply length", mock::load_be32(hdr + 4), mock::kStatsSize);
  std::uint8_t p[mock::kStatsSize];
  r.ctl.recv_exact(p, sizeof p, "stats reply payload");
  const char* names[6] = {"ctl frames", "ctl bytes", "ctl fnv", "io frames", "io bytes", "io fnv"};
  const std::uint64_t want[6] = {r.ctl_tally.frames, r.ctl_tally.bytes, r.ctl_tally.fnv.value(),
                                 r.io_tally.frames,  r.io_tally.bytes,  r.io_tally.fnv.value()};
  for (int i = 0; i < 6; ++i)
    expect_eq(std::string("agent stats: ") + names[i], mock::load_be64(p + 8 * i), want[i]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Client of mock_agent: sends seeded control and I/O frames, checks every ack, echo\n"
      "and the agent's final byte tally. Exit 0 all matched, 1 the first mismatch."};
  std::string ctl_path, io_path;
  bool naive = false;
  std::size_t commands = 64, frames = 64;
  std::uint64_t seed = 1;
  std::uint32_t max_size = 65536;
  double timeout_s = 10;
  app.add_option("--ctl", ctl_path, "Agent's control socket path")->required();
  app.add_option("--io", io_path, "Agent's I/O socket path")->required();
  app.add_flag("--naive", naive,
               "One read()/write() per header or payload: no loop on short transfers");
  app.add_option("--commands", commands, "Control frames to send")->capture_default_str();
  app.add_option("--frames", frames, "I/O frames to send")->capture_default_str();
  app.add_option("--seed", seed, "Seed for payload sizes and bytes")->capture_default_str();
  app.add_option("--max-size", max_size, "Largest payload in bytes")
      ->check(CLI::Range(0u, mock::kMaxPayload))
      ->capture_default_str();
  app.add_option("--timeout", timeout_s, "Seconds for the whole run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  signal(SIGPIPE, SIG_IGN);
  const char* self = naive ? "mock_client (naive)" : "mock_client";
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_s));
  try {
    Link ctl(ctl_path, true, !naive, deadline, timeout_s);
    Link io(io_path, false, !naive, deadline, timeout_s);
    Run run{ctl, io, {}, {}};
    Rng ctl_rng(seed * 2 + 1), io_rng(seed * 2 + 2);
    const std::uint32_t known[3] = {mock::kWriteFile, mock::kPing, mock::kVersion};
    for (std::size_t i = 0; i < std::max(commands, frames); ++i) {
      if (i < commands) {
        const std::vector<std::uint8_t> payload = make_payload(ctl_rng, i, max_size);
        const std::uint32_t cmd =
            i == commands / 2 && i > 0 ? mock::kUnknownForTest : known[ctl_rng.next() % 3];
        ctl_frame(run, i, cmd, payload);
      }
      if (i < frames) io_frame(run, i, make_payload(io_rng, i, max_size));
    }
    check_stats(run);
    std::printf("client: ctl frames=%" PRIu64 " bytes=%" PRIu64 " fnv=%016" PRIx64
                " io frames=%" PRIu64 " bytes=%" PRIu64 " fnv=%016" PRIx64 "\n",
                run.ctl_tally.frames, run.ctl_tally.bytes, run.ctl_tally.fnv.value(),
                run.io_tally.frames, run.io_tally.bytes, run.io_tally.fnv.value());
  } catch (const Mismatch& m) {
    std::fprintf(stderr, "%s: %s\n", self, m.what());
    return 1;
  }
  return 0;
}
