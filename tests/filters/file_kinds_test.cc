// load_table_file: which files it reads (regular files; pipes and FIFOs unless kRegularOnly),
// that it refuses everything else by kind before reading, never blocks on a FIFO, and reads at
// most 1 MiB + 1 bytes from anything. Each load runs in a child with bounded memory and time.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "filters/table.h"
#include "tests/catch.h"
#include "tests/filters/bounded_run.h"

namespace filters {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRules = R"({"seed": 3, "rules": [{"name": "x", "on": "bind", "do": {"fail": "EADDRINUSE"}}]})";
constexpr const char* kEmpty =
    ": syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal";

// A temporary directory, removed with what is in it.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/filters_kinds_XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path_ = name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string fifo(const std::string& name) const {
    const std::string p = path_ + "/" + name;
    REQUIRE(mkfifo(p.c_str(), 0600) == 0);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The error load_table_file(path, kinds) gives, loaded in a bounded child.
std::string file_error(const std::string& path, FileKinds kinds = FileKinds::kRegularOrPipe) {
  return test::load_error_bounded([&] {
    try {
      load_table_file(path, kinds);
    } catch (const LoadError& e) {
      // Reading problems have no position; only parse errors do.
      if (e.line() == 0 && e.col() != 0) throw LoadError("", 0, 0, "", "column without a line");
      throw;
    }
  });
}

// Writes `text` into a pipe's write end from a thread, then closes it. SIGPIPE is blocked in
// the thread so a reader that stops early gives EPIPE, not the end of the test binary.
std::thread writer(int fd, std::string text) {
  return std::thread([fd, text = std::move(text)] {
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    for (std::size_t done = 0; done < text.size();) {
      const std::size_t chunk = std::min<std::size_t>(text.size() - done, 1000);
      const ssize_t n = write(fd, text.data() + done, chunk);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    close(fd);
  });
}

TEST_CASE("a regular file loads; a missing one says why", "[filters][files]") {
  const TempDir dir;
  CHECK(file_error(dir.file("rules.json", kRules)) == "no error");
  CHECK(load_table_file(dir.file("rules.json", kRules)).seed() == 3u);
  CHECK(file_error(dir.path() + "/missing.json") ==
        dir.path() + "/missing.json: cannot read: No such file or directory");
}

TEST_CASE("directories, devices and sockets are refused by kind", "[filters][files]") {
  const TempDir dir;
  CHECK(file_error(dir.path()) == dir.path() + ": not a regular file or pipe (directory)");
  CHECK(file_error("/dev/zero") == "/dev/zero: not a regular file or pipe (character device)");
  CHECK(file_error("/dev/null") == "/dev/null: not a regular file or pipe (character device)");
  CHECK(file_error("/dev/zero", FileKinds::kRegularOnly) ==
        "/dev/zero: not a regular file (character device)");

  const std::string sock = dir.path() + "/rules.sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  CHECK(file_error(sock) == sock + ": not a regular file or pipe (socket)");
  close(fd);

  // A block device, when the machine shows one.
  for (const auto& e : fs::directory_iterator("/dev")) {
    struct stat st{};
    if (stat(e.path().c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) continue;
    CHECK(file_error(e.path()) == e.path().string() + ": not a regular file or pipe (block device)");
    break;
  }
}

TEST_CASE("a FIFO that never had a writer reads as empty at once", "[filters][files]") {
  const TempDir dir;
  const std::string fifo = dir.fifo("rules.fifo");
  CHECK(file_error(fifo) == fifo + ":1:1" + kEmpty);
}

TEST_CASE("a pipe whose writer keeps it open and silent is refused after the wait",
          "[filters][files]") {
  const TempDir dir;
  const std::string fifo = dir.fifo("rules.fifo");
  // O_RDWR on a FIFO opens at once (Linux) and counts as a writer that never writes.
  const int held = open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(held >= 0);
  CHECK(test::load_error_bounded([&] {
          read_rule_file(fifo, FileKinds::kRegularOrPipe, 50);
        }) == fifo + ": the pipe's writer did not finish within 50 ms (a rule file must be "
                     "written and closed at once)");
  close(held);
}

TEST_CASE("pipes are read to their end, in pieces if need be", "[filters][files]") {
  SECTION("a writer that is done (sockshim run -c <(cat rules.json))") {
    int p[2];
    REQUIRE(pipe(p) == 0);
    REQUIRE(write(p[1], kRules, std::strlen(kRules)) == static_cast<ssize_t>(std::strlen(kRules)));
    close(p[1]);
    const std::string path = "/dev/fd/" + std::to_string(p[0]);
    CHECK(file_error(path) == "no error");
    CHECK(file_error(path, FileKinds::kRegularOnly) ==
          path + ": not a regular file (pipe or FIFO): reading it could block the program "
                 "before its main (sockshim run reads pipes)");
    close(p[0]);
  }
  SECTION("a writer still writing, more than a pipe holds") {
    std::string text = R"({"rules": [], "$schema": ")" + std::string(300000, 's') + "\"}";
    CHECK(test::load_error_bounded([&] {
            int p[2];
            if (pipe(p) != 0) throw std::runtime_error("pipe");
            std::thread w = writer(p[1], text);
            try {
              load_table_file("/dev/fd/" + std::to_string(p[0]));
            } catch (...) {
              w.join();
              throw;
            }
            w.join();
          }) == "no error");
  }
}

TEST_CASE("more than 1 MiB is refused, from a pipe or a file", "[filters][files]") {
  const TempDir dir;
  const std::string big = R"({"rules": [], "$schema": ")" + std::string(kMaxFileBytes, 's') + "\"}";
  const std::string file = dir.file("big.json", big);
  CHECK(file_error(file) == file + ": too big: " + std::to_string(big.size()) +
                                " bytes, the limit is 1048576 bytes (1 MiB)");
  CHECK(test::load_error_bounded([&] {
          int p[2];
          if (pipe(p) != 0) throw std::runtime_error("pipe");
          std::thread w = writer(p[1], big + std::string(4 * kMaxFileBytes, ' '));
          const std::string path = "/dev/fd/" + std::to_string(p[0]);
          try {
            load_table_file(path);
          } catch (const LoadError& e) {
            close(p[0]);   // the writer sees EPIPE and ends
            w.join();
            throw LoadError("pipe", e.line(), e.col(), e.key(), e.message());
          }
          close(p[0]);
          w.join();
        }) == "pipe: too big: more than the limit of 1048576 bytes (1 MiB)");
  // /dev/zero is refused by kind, before a byte is read; /dev/stdin as a pipe is bounded above.
  const std::string at_limit =
      R"({"rules": [], "$schema": ")" + std::string(kMaxFileBytes - 28, 's') + "\"}";
  REQUIRE(at_limit.size() == kMaxFileBytes);
  CHECK(file_error(dir.file("limit.json", at_limit)) == "no error");
}

TEST_CASE("kRegularOnly refuses FIFOs without opening them", "[filters][files]") {
  const TempDir dir;
  const std::string fifo = dir.fifo("rules.fifo");
  CHECK(file_error(fifo, FileKinds::kRegularOnly) ==
        fifo + ": not a regular file (pipe or FIFO): reading it could block the program before "
               "its main (sockshim run reads pipes)");
  CHECK(file_error(dir.file("rules.json", kRules), FileKinds::kRegularOnly) == "no error");
}

}  // namespace
}  // namespace filters
