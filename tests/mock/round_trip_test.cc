// mock_agent and mock_client without the shim: both clients complete a seeded run against a fresh
// agent on unix sockets in a temp dir and match its tally; the tally check can fail; the agent's
// answers to a half-close and to oversized frames, byte for byte; --timeout; --help.
// MOCK_AGENT and MOCK_CLIENT are the built executables' paths (meson.build).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/catch.h"
#include "tests/mock/frames.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mock-rt-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// A child with stdout and stderr on one pipe; killed and reaped when it goes out of scope.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_fd_ = fds[0];
    REQUIRE(rc == 0);
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads output until `until` appears in it, EOF, or `seconds` pass. True when it appeared.
  bool read_until(const std::string& until, double seconds) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (until.empty() || out_.find(until) == std::string::npos) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{out_fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      char buf[4096];
      const ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) return false;
      out_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

  // Waits (bounded) for the exit, after `sig` if not 0; returns the exit status, -1 if killed.
  int finish(int sig, double seconds = 20) {
    if (sig) kill(pid_, sig);
    read_until("", seconds);  // to EOF: the child closed its output by exiting
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    int raw = 0;
    while (waitpid(pid_, &raw, WNOHANG) == 0) {
      if (Clock::now() > deadline) kill(pid_, SIGKILL);
      usleep(10000);
    }
    pid_ = -1;
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  }
  const std::string& out() const { return out_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string out_;
};

// An agent on DIR/ctl and DIR/io that has printed "ready".
struct Agent {
  std::string ctl, io;
  Child child;
  explicit Agent(const std::string& dir, const std::string& timeout = "30")
      : ctl(dir + "/ctl"), io(dir + "/io"),
        child({MOCK_AGENT, "--ctl", ctl, "--io", io, "--timeout", timeout}) {
    REQUIRE(child.read_until("ready\n", 5));
  }
  // SIGTERM; requires exit 0 and returns the tally line without its "agent: " prefix.
  std::string stop() {
    REQUIRE(child.finish(SIGTERM) == 0);
    return line_after(child.out(), "agent: ");
  }
  // The rest of the first line that starts with `prefix`.
  static std::string line_after(const std::string& out, const std::string& prefix) {
    for (std::size_t at = 0; at < out.size(); at = out.find('\n', at) + 1) {
      if (out.compare(at, prefix.size(), prefix) == 0)
        return out.substr(at + prefix.size(), out.find('\n', at) - at - prefix.size());
      if (out.find('\n', at) == std::string::npos) break;
    }
    return "(no '" + prefix + "' line in: " + out + ")";
  }
};

struct ClientRun {
  int status;
  std::string out;
};

ClientRun run_client(const Agent& a, std::vector<std::string> extra) {
  std::vector<std::string> argv{MOCK_CLIENT, "--ctl", a.ctl, "--io", a.io, "--timeout", "10"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Child c(argv);
  const int status = c.finish(0);
  return {status, c.out()};
}

// Connects to PATH, sends `data`, half-closes when asked, and reads until EOF (5 s at most).
std::string exchange(const std::string& path, const std::vector<std::uint8_t>& data,
                     bool half_close) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  const timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()));
  if (half_close) shutdown(fd, SHUT_WR);
  std::string got;
  char buf[4096];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return got;
}

std::vector<std::uint8_t> ctl_header(std::uint32_t command, std::uint32_t length) {
  std::vector<std::uint8_t> h(mock::kCtlHeaderSize);
  mock::store_be32(h.data(), command);
  mock::store_be32(h.data() + 4, length);
  return h;
}

}  // namespace

TEST_CASE("careful and naive clients match the agent's tally without the shim", "[mock]") {
  for (const char* mode : {"careful", "naive"}) {
    INFO(mode);
    TempDir dir;
    Agent agent(dir.path);
    std::vector<std::string> opts{"--seed", "7"};
    if (std::string(mode) == "naive") opts.push_back("--naive");
    const ClientRun r = run_client(agent, opts);
    INFO(r.out);
    REQUIRE(r.status == 0);
    const std::string got = Agent::line_after(r.out, "client: ");
    CHECK(got.find("ctl frames=64 ") == 0);
    CHECK(got.find(" io frames=64 ") != std::string::npos);
    CHECK(got == agent.stop());
  }
}

TEST_CASE("a second client against the same agent fails its stats check", "[mock]") {
  TempDir dir;
  Agent agent(dir.path);
  const std::vector<std::string> small{"--commands", "3", "--frames", "2"};
  REQUIRE(run_client(agent, small).status == 0);
  const ClientRun second = run_client(agent, small);
  CHECK(second.status == 1);
  CHECK(second.out == "mock_client: agent stats: ctl frames: got 6 (0x6), want 3 (0x3)\n");
  agent.stop();
}

TEST_CASE("the agent acks a half-closed connection and refuses frames over 1 MiB", "[mock]") {
  TempDir dir;
  Agent agent(dir.path);
  std::vector<std::uint8_t> ping = ctl_header(mock::kPing, 3);
  ping.insert(ping.end(), {'a', 'b', 'c'});
  std::vector<std::uint8_t> ack = ctl_header(mock::kAck, 16);
  ack.resize(ack.size() + 16);
  mock::store_be32(ack.data() + 8, mock::kPing);
  mock::store_be32(ack.data() + 12, 3);
  mock::store_be64(ack.data() + 16, 0xe71fa2190541574bull);  // FNV-1a 64 of "abc"
  CHECK(exchange(agent.ctl, ping, true) == std::string(ack.begin(), ack.end()));

  std::vector<std::uint8_t> err = ctl_header(mock::kError, 18);
  err.resize(err.size() + 4);
  mock::store_be32(err.data() + 8, mock::kWriteFile);
  const std::string reason = "frame too long";
  err.insert(err.end(), reason.begin(), reason.end());
  CHECK(exchange(agent.ctl, ctl_header(mock::kWriteFile, mock::kMaxPayload + 1), false) ==
        std::string(err.begin(), err.end()));

  std::vector<std::uint8_t> io(mock::kIoHeaderSize);
  mock::store_be64(io.data(), 5);
  mock::store_be32(io.data() + 8, mock::kMaxPayload + 1);
  CHECK(exchange(agent.io, io, false).empty());  // closed without an answer

  CHECK(agent.stop().find("ctl frames=1 bytes=3 fnv=e71fa2190541574b io frames=0 ") == 0);
}

TEST_CASE("--timeout stops an idle agent with an empty tally", "[mock]") {
  TempDir dir;
  Agent agent(dir.path, "0.3");
  CHECK(agent.child.finish(0, 5) == 0);
  const std::string empty = "cbf29ce484222325";  // FNV-1a offset basis: no byte hashed
  CHECK(Agent::line_after(agent.child.out(), "agent: ") ==
        "ctl frames=0 bytes=0 fnv=" + empty + " io frames=0 bytes=0 fnv=" + empty);
  CHECK(agent.child.out().find("stopped (timeout)") != std::string::npos);
  CHECK(!std::filesystem::exists(agent.ctl));
}

TEST_CASE("both commands have --help", "[mock]") {
  for (const char* exe : {MOCK_AGENT, MOCK_CLIENT}) {
    INFO(exe);
    Child c({exe, "--help"});
    CHECK(c.finish(0) == 0);
    CHECK(c.out().find("Usage") != std::string::npos);
  }
}
