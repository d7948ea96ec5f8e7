// Matching must not allocate: the shim calls it from inside wrapped calls, where the program may
// be inside malloc or a signal handler. This binary replaces the global operator new with one that
// counts while `counting` is set, and runs first_match and When::selects with every key in use.
// (Its own binary, so the other tests keep the sanitizers' allocator.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "filters/table.h"
#include "tests/catch.h"

// GCC sees std::free inside the replacement delete and, after inlining, calls it a mismatch
// with operator new; they are this file's own matched pair (malloc/free).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace filters {
namespace {

TEST_CASE("the counter sees allocations", "[filters][alloc]") {
  allocations = 0;
  counting = true;
  auto* s = new std::string(100, 'x');
  counting = false;
  delete s;
  CHECK(allocations.load() >= 1);
}

TEST_CASE("first_match and selects allocate nothing, with every key in use", "[filters][alloc]") {
  // Rules that fail late (the last key decides) so that every comparison runs.
  std::string text = R"({"seed": 5, "rules": [)";
  for (int i = 0; i < 50; ++i) {
    text += R"({"name": "r)" + std::to_string(i) + R"(", "on": ["send", "recv"],
      "match": {"family": "inet", "type": "stream", "protocol": "tcp", "peer": "127.0.0.0/8",
                "local": "127.0.0.1", "port": 6379, "local_port": "1024-65535",
                "peer_port": 6379, "path": "*", "argv0": "filters_*", "role": "client"},
      "when": {"probability": 0.5, "nth": 2, "after": 1, "from_ms": 0, "until_ms": 100000,
               "after_bytes": 10, "after_connected_ms": 1, "count": "socket"},
      "do": {"short": 3}},)";
  }
  text += R"({"name": "opts", "on": "setsockopt",
      "match": {"level": "IPPROTO_TCP", "option": "TCP_NODELAY", "path": "/run/*.sock"},
      "do": {"fail": "ENOPROTOOPT"}},
     {"name": "dns", "on": "getaddrinfo", "match": {"host": "*.test", "port": 6379},
      "do": {"fail": "EAI_AGAIN"}},
     {"name": "last", "on": ["send", "recv"], "match": {"peer": "::1", "role": "client"},
      "do": {"eagain": true}}]})";
  Table t = load_table_text(text, "alloc.json");
  t.select_program("filters_alloc_tests");

  SocketFacts f;
  f.family = AF_INET6;
  f.type = SOCK_STREAM;
  f.protocol = IPPROTO_TCP;
  f.service_port = 6379;
  f.local_port = 40000;
  f.peer_port = 6379;
  f.peer.family = AF_INET6;
  f.peer.bytes[15] = 1;
  f.local = f.peer;
  f.path = "/run/app.sock";
  f.role = Role::kClient;
  f.level = IPPROTO_TCP;
  f.option = TCP_NODELAY;
  f.host = "db.test";
  Hit h;
  h.n = 3;
  h.elapsed_ms = 10;
  h.socket_bytes = 100;
  h.connected_ms = 5;

  allocations = 0;
  counting = true;
  const int send_rule = t.first_match(CallType::kSend, f);
  const int opt_rule = t.first_match(CallType::kSetsockopt, f);
  const int dns_rule = t.first_match(CallType::kGetaddrinfo, f);
  f.family = AF_INET;
  f.peer.family = AF_INET;
  f.peer.bytes = {127, 0, 0, 1};
  f.local = f.peer;
  const int v4_rule = t.first_match(CallType::kRecv, f);
  bool selected = false;
  for (const Rule& r : t.rules()) selected |= r.when.selects(h, t.seed(), 0);
  const double c = chance(1, 2, 3);
  const bool glob = glob_match("*a*b*[0-9]", "xaxbx7");
  counting = false;

  CHECK(allocations.load() == 0);
  // And the answers are the real ones, so nothing was skipped.
  CHECK(send_rule == 52);
  CHECK(opt_rule == 50);
  CHECK(dns_rule == 51);
  CHECK(v4_rule == 0);
  CHECK(selected);
  CHECK(c < 1.0);
  CHECK(glob);
}

}  // namespace
}  // namespace filters
