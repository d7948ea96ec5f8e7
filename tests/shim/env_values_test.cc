// The environment as the preload object reads it before main: one pass instead of getenv() per
// variable, with getenv()'s answers.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "shim/env_values.h"

namespace shim {
namespace {

TEST_CASE("read_shim_env answers as getenv would", "[env]") {
  const char* envp[] = {"PATH=/bin",
                        "SOCKSHIM_RULESX=/not/this",   // a longer name
                        "SOCKSHIM_RULES",              // no '=': not a variable
                        "SOCKSHIM_STATS=",             // set and empty
                        "SOCKSHIM_RULES=/etc/r.json",
                        "SOCKSHIM_SEED=0x10",
                        "SOCKSHIM_RULES=/second/wins/not.json",
                        "XSOCKSHIM_DEBUG=1",
                        nullptr};
  const ShimEnv env = read_shim_env(envp);
  REQUIRE(env.rules != nullptr);
  CHECK(std::string(env.rules) == "/etc/r.json");
  REQUIRE(env.stats != nullptr);
  CHECK(std::string(env.stats).empty());
  REQUIRE(env.seed != nullptr);
  CHECK(std::string(env.seed) == "0x10");
  CHECK(env.debug == nullptr);
}

TEST_CASE("read_shim_env of no environment finds nothing", "[env]") {
  const ShimEnv none = read_shim_env(nullptr);
  CHECK(none.rules == nullptr);
  const char* empty[] = {nullptr};
  CHECK(read_shim_env(empty).stats == nullptr);
}

TEST_CASE("parse_seed and parse_switch take only their syntax", "[env]") {
  std::uint64_t v = 7;
  CHECK(parse_seed("0x10", v));
  CHECK(v == 16u);
  CHECK_FALSE(parse_seed("010x", v));
  CHECK_FALSE(parse_seed("-1", v));
  CHECK(v == 16u);
  bool on = false;
  CHECK(parse_switch("YES", on));
  CHECK(on);
  CHECK_FALSE(parse_switch("maybe", on));
}

}  // namespace
}  // namespace shim
