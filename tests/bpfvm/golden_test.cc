// Every golden case through validate() and run(), and through each text form and back.
#include <catch2/catch.hpp>

#include "bpfvm/asm/text.h"
#include "bpfvm/interpreter.h"
#include "golden.h"

using bpfvm::testing::GoldenCase;

TEST_CASE("golden cases: validate and run agree with the recorded kernel behaviour", "[golden]") {
  const auto cases = bpfvm::testing::load_all_golden();
  REQUIRE(cases.size() >= 40);
  for (const GoldenCase& g : cases) {
    INFO("case " << g.name);
    auto v = bpfvm::validate(g.prog);
    if (g.reject_reason) {
      REQUIRE_FALSE(v.has_value());
      CHECK(std::string(bpfvm::reason(v.error().code)) == *g.reject_reason);
      CHECK(v.error().insn_index == g.reject_index);
    } else {
      REQUIRE(v.has_value());
      CHECK(bpfvm::run(*v, g.context()) == *g.expect);
    }
  }
}

TEST_CASE("golden programs survive every text form unchanged", "[golden][text]") {
  for (const GoldenCase& g : bpfvm::testing::load_all_golden()) {
    INFO("case " << g.name);
    CHECK(*bpfvm::parse_dd(bpfvm::format_dd(g.prog)) == g.prog);
    CHECK(*bpfvm::parse_json(bpfvm::format_json(g.prog)) == g.prog);
    CHECK(*bpfvm::parse_numbers(bpfvm::format_numbers(g.prog)) == g.prog);
    CHECK(*bpfvm::parse_any(bpfvm::format_dd(g.prog)) == g.prog);
    if (!bpfvm::validate(g.prog)) continue;  // listing/asm spell only what the kernel runs
    auto listed = bpfvm::parse_listing(bpfvm::format_listing(g.prog));
    REQUIRE(listed.has_value());
    CHECK(*listed == g.prog);
    auto source = bpfvm::format_asm(g.prog);
    REQUIRE(source.has_value());
    auto assembled = bpfvm::parse_asm(*source);
    INFO(*source);
    REQUIRE(assembled.has_value());
    CHECK(*assembled == g.prog);
  }
}
