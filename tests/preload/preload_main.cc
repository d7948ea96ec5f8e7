// Runner for the preload tests: re-executes itself under the shim, runs Catch2, removes the
// segment. argv[1] is libsockshim.so, argv[2] the rule file (from meson).
#define CATCH_CONFIG_RUNNER
#include <arpa/inet.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "preload_env.h"
#include "shim/stats/segment.h"

namespace preload_test {
namespace {
shim::stats::Mapping g_map;
}

shim::stats::Segment& segment() { return *g_map.seg; }

void only_rule(int rule) {
  for (std::uint32_t i = 0; i < g_map.seg->header.rule_count; ++i)
    g_map.seg->rules[i].disabled.store(static_cast<int>(i) == rule ? 0 : 1);
}

std::uint64_t counter(shim::Cookie c, shim::stats::Counter k) {
  for (const auto& slot : g_map.seg->cookies)
    if (slot.key.load() == (c | shim::stats::kKeyUsed)) return slot.counters[k].load();
  return 0;
}

Listener::Listener() {
  fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &n) != 0)
    std::perror("listener");
}
Listener::~Listener() { ::close(fd); }

TcpPair::TcpPair(const Listener& l) {
  client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(client, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr) != 0)
    std::perror("connect");
  server = ::accept(l.fd, nullptr, nullptr);
}
TcpPair::~TcpPair() {
  ::close(client);
  ::close(server);
}

}  // namespace preload_test

int main(int argc, char** argv) {
  const char* name = std::getenv("SOCKSHIM_STATS");
  if (!name || !*name) {
    if (argc < 3) {
      std::fprintf(stderr, "usage: %s LIBSOCKSHIM RULES [catch options]\n", argv[0]);
      return 2;
    }
    const std::string seg = "preload-test-" + std::to_string(getpid());
    setenv("SOCKSHIM_STATS", seg.c_str(), 1);
    setenv("LD_PRELOAD", argv[1], 1);
    setenv("SOCKSHIM_RULES", argv[2], 1);
    execv("/proc/self/exe", argv);
    std::perror("execv");
    return 2;
  }
  int sys = 0;
  if (shim::stats::attach_segment(name, true, 1000, preload_test::g_map, &sys) !=
      shim::stats::SegmentError::kNone) {
    std::fprintf(stderr, "preload test: the shim did not create segment %s: is it preloaded?\n", name);
    return 1;
  }
  preload_test::only_rule(-1);
  // Catch sees the options after the two paths.
  std::vector<char*> args{argv[0]};
  for (int i = 3; i < argc; ++i) args.push_back(argv[i]);
  const int rc = Catch::Session().run(static_cast<int>(args.size()), args.data());
  shim::stats::remove_segment(name);
  return rc;
}
