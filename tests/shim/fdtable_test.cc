// shim/fdtable.h: one reservation sized from RLIMIT_NOFILE, entries zero ("unknown") until
// written, a high-water mark that bounds the scans, nothing tracked past the limit.
#include "shim/fdtable.h"

#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

namespace {

using shim::FdEntry;
using shim::FdKind;
using shim::FdState;
using shim::FdTable;

void make_socket(FdEntry& e) {
  e.state.store(FdState::make(FdKind::kSocket, shim::ConnState::kNone, 0), std::memory_order_relaxed);
}

TEST_CASE("before init nothing is tracked, after it every fd below the hard limit is", "[fdtable]") {
  static FdTable t;   // the shim's table is a constinit global: no constructor work
  CHECK_FALSE(t.tracked(0));
  CHECK(t.find(3) == nullptr);
  CHECK(t.get(3) == nullptr);
  t.init();
  rlimit rl{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  const rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FdTable::kMaxFds ? FdTable::kMaxFds : rl.rlim_max;
  CHECK(static_cast<rlim_t>(t.limit()) == want);
  CHECK(t.tracked(t.limit() - 1));
  CHECK_FALSE(t.tracked(t.limit()));
  CHECK_FALSE(t.tracked(-1));
  CHECK(t.find(-1) == nullptr);
  CHECK(t.get(t.limit()) == nullptr);
  // An untouched entry reads as unknown (the reservation's zero pages).
  CHECK(t.find(t.limit() - 1)->state.load() == 0);
  CHECK(t.fd_of(t.at(17)) == 17);
}

TEST_CASE("for_each_socket sees exactly the sockets written through get, up to the highest", "[fdtable]") {
  static FdTable t;
  t.init();
  REQUIRE(t.limit() > 5000);
  std::vector<int> seen;
  t.for_each_socket([&](int fd, FdEntry&) { seen.push_back(fd); });
  CHECK(seen.empty());
  make_socket(*t.get(7));
  make_socket(*t.get(4999));
  t.get(100)->state.store(FdState::make(FdKind::kNotSocket, shim::ConnState::kNone, 0));
  t.for_each_socket([&](int fd, FdEntry&) { seen.push_back(fd); });
  CHECK(seen == std::vector<int>{7, 4999});
  t.clear(7);
  seen.clear();
  t.for_each_socket([&](int fd, FdEntry&) { seen.push_back(fd); });
  CHECK(seen == std::vector<int>{4999});
}

TEST_CASE("for_each_socket_in sees the sockets of its range only, however wide", "[fdtable]") {
  static FdTable t;
  t.init();
  REQUIRE(t.limit() > 5000);
  make_socket(*t.get(3));
  make_socket(*t.get(10));
  make_socket(*t.get(11));
  make_socket(*t.get(4000));
  std::vector<int> seen;
  t.for_each_socket_in(10, 11, [&](int fd, FdEntry&) { seen.push_back(fd); });
  CHECK(seen == std::vector<int>{10, 11});
  seen.clear();
  t.for_each_socket_in(4, ~0u, [&](int fd, FdEntry&) { seen.push_back(fd); });   // close_range(4, ~0U)
  CHECK(seen == std::vector<int>{10, 11, 4000});
  seen.clear();
  t.for_each_socket_in(4001, ~0u, [&](int fd, FdEntry&) { seen.push_back(fd); });
  CHECK(seen.empty());
  t.for_each_socket_in(0, 3, [&](int fd, FdEntry&) { seen.push_back(fd); });
  CHECK(seen == std::vector<int>{3});
}

TEST_CASE("threads raising the high-water mark at once leave it at the highest fd", "[fdtable]") {
  static FdTable t;
  t.init();
  REQUIRE(t.limit() > 8 * 1000);
  std::vector<std::thread> threads;
  for (int k = 0; k < 8; ++k)
    threads.emplace_back([k] {
      for (int i = 0; i < 1000; ++i) make_socket(*t.get(k * 1000 + i));
    });
  for (auto& th : threads) th.join();
  int count = 0, highest = -1;
  t.for_each_socket([&](int fd, FdEntry&) { ++count; highest = fd; });
  CHECK(count == 8000);
  CHECK(highest == 7999);
}

}  // namespace
