// Validator rules beyond the golden files: the opcode table, index reporting, and the type rule
// that only validate() makes a ValidatedProgram.
#include <catch2/catch.hpp>

#include <type_traits>

#include "bpfvm/interpreter.h"

using bpfvm::Errc;
using bpfvm::Program;

static_assert(!std::is_constructible_v<bpfvm::ValidatedProgram, Program>,
              "only validate() may create a ValidatedProgram");
static_assert(!std::is_default_constructible_v<bpfvm::ValidatedProgram>);
static_assert(!std::is_constructible_v<bpfvm::Interpreter, Program>);

TEST_CASE("the opcode table is the kernel's chk_code_allowed: 49 codes", "[validator]") {
  int allowed = 0;
  for (std::uint32_t c = 0; c <= 0xffff; ++c) allowed += bpfvm::opcode_allowed(static_cast<std::uint16_t>(c));
  CHECK(allowed == 49);
  CHECK(bpfvm::opcode_allowed(0xb1));          // ldxb 4*([k]&0xf)
  CHECK_FALSE(bpfvm::opcode_allowed(0xa1));    // ldx|w|msh
  CHECK_FALSE(bpfvm::opcode_allowed(0x0e));    // ret x
  CHECK_FALSE(bpfvm::opcode_allowed(0x106));   // a ret with a high bit set
}

TEST_CASE("each refusal names its instruction", "[validator]") {
  auto e = bpfvm::validate({{0x00, 0, 0, 1}, {0x00, 0, 0, 2}, {0x34, 0, 0, 0}, {0x06, 0, 0, 0}});
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error() == bpfvm::BpfError{Errc::kDivisionByZero, 2});
  // The per-instruction rules run before the last-instruction rule, as in bpf_check_classic.
  auto first = bpfvm::validate({{0xff, 0, 0, 0}, {0x00, 0, 0, 0}});
  REQUIRE_FALSE(first.has_value());
  CHECK(first.error() == bpfvm::BpfError{Errc::kUnknownOpcode, 0});
  // A conditional jump's jt and jf are both checked.
  auto jf = bpfvm::validate({{0x15, 0, 2, 0}, {0x06, 0, 0, 0}, {0x06, 0, 0, 0}});
  REQUIRE_FALSE(jf.has_value());
  CHECK(jf.error().code == Errc::kJumpOutOfRange);
}

TEST_CASE("ld below SKF_AD_OFF is a load, not an ancillary, and ldx never is one", "[validator]") {
  CHECK(bpfvm::validate({{0x20, 0, 0, 0xffffefff}, {0x16, 0, 0, 0}}).has_value());
  CHECK(bpfvm::validate({{0xb1, 0, 0, 0xfffff040}, {0x16, 0, 0, 0}}).has_value());
  CHECK(bpfvm::validate({{0x40, 0, 0, 0xfffff040}, {0x16, 0, 0, 0}}).has_value());
}

TEST_CASE("Interpreter runs the program it was given", "[interpreter]") {
  auto v = bpfvm::validate({{0x80, 0, 0, 0}, {0x16, 0, 0, 0}});
  REQUIRE(v.has_value());
  const std::uint8_t bytes[3] = {1, 2, 3};
  bpfvm::Context ctx;
  ctx.packet = bytes;
  CHECK(bpfvm::Interpreter(*v).run(ctx) == 3);
}

TEST_CASE("netlink attribute search stays inside the packet", "[interpreter][nlattr]") {
  // An attribute claiming 0xffff bytes is not walked past the end.
  const std::uint8_t huge[] = {0xff, 0xff, 0x02, 0x00, 0, 0, 0, 0};
  CHECK(bpfvm::find_nlattr(huge, 0, 2) == 0);
  // Type bits NLA_F_NESTED / NLA_F_NET_BYTEORDER are ignored when matching.
  const std::uint8_t flagged[] = {0x04, 0x00, 0x05, 0x80, 0x04, 0x00, 0x06, 0x40};
  CHECK(bpfvm::find_nlattr(flagged, 0, 6) == 4);
  CHECK(bpfvm::find_nlattr(flagged, 0, 5) == 0);  // found at offset 0, which the kernel also reports as 0
  // A nest shorter than its header finds nothing.
  const std::uint8_t tiny_nest[] = {0x02, 0x00, 0x01, 0x00, 0x04, 0x00, 0x01, 0x00};
  CHECK(bpfvm::find_nlattr_nest(tiny_nest, 0, 1) == 0);
  CHECK(bpfvm::find_nlattr(std::span<const std::uint8_t>(huge, 3), 0, 2) == 0);
}
