// load_bench: how long `sockshim run` and `sockshim check` take to turn a rule file into the
// compiled table every process of the run matches with (read, parse with positions, validate,
// compile the image). scripts/bench-shim.sh runs it on generated files of 100 and 1 000 rules.
// Not a test: it measures and prints; it asserts nothing about speed.
//
//   load_bench FILE [ROUNDS]   loads FILE ROUNDS times (default 50)
//
// Output: rules=N image_bytes=B rounds=R min_ms=… median_ms=… max_ms=…
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "filters/table.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || std::string(argv[1]) == "--help") {
    std::fprintf(argc < 2 ? stderr : stdout, "usage: load_bench FILE [ROUNDS]\n");
    return argc < 2 ? 2 : 0;
  }
  const int rounds = argc == 3 ? std::atoi(argv[2]) : 50;
  if (rounds < 1 || rounds > 100000) {
    std::fprintf(stderr, "load_bench: ROUNDS must be 1..100000, got '%s'\n", argv[2]);
    return 2;
  }
  std::vector<double> ms;
  std::size_t rules = 0, image = 0;
  try {
    for (int i = 0; i < rounds; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const filters::Table t = filters::load_table_file(argv[1]);
      const auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      rules = t.rules().size();
      image = t.image().size();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load_bench: %s\n", e.what());
    return 1;
  }
  std::sort(ms.begin(), ms.end());
  std::printf("rules=%zu image_bytes=%zu rounds=%d min_ms=%.3f median_ms=%.3f max_ms=%.3f\n", rules,
              image, rounds, ms.front(), ms[ms.size() / 2], ms.back());
  return 0;
}
