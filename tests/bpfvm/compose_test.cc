// A gate and a second program as one socket filter (bpfvm/compose.h): on the interpreter, the
// composition returns 0 where the gate drops and the second's verdict everywhere else, the
// junction gives the second A = X = 0 as the kernel would, and bpfvm::check accepts what
// validate() accepts, without keeping the program.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "bpfvm/compose.h"
#include "bpfvm/interpreter.h"
#include "bpfvm/loss_filter.h"

namespace {

using bpfvm::Instruction;
using bpfvm::Program;

bpfvm::ValidatedProgram valid(const Program& p) {
  auto v = bpfvm::validate(p);
  REQUIRE(v.has_value());
  return std::move(*v);
}

std::uint32_t run(const bpfvm::ValidatedProgram& p, const std::vector<std::uint8_t>& packet, std::uint32_t random) {
  bpfvm::Context ctx;
  ctx.packet = packet;
  ctx.anc.random = random;
  return bpfvm::run(p, ctx);
}

Program composed(const Program& gate, const Program& second) {
  Program out(gate.size() + bpfvm::kJunctionSize + second.size());
  const std::size_t n = bpfvm::compose_behind_gate(gate, second, out);
  REQUIRE(n == out.size());
  REQUIRE_FALSE(bpfvm::check(out).has_value());
  return out;
}

Program loss(double p) {
  const bpfvm::LossFilter f = bpfvm::build_loss_filter(bpfvm::loss_threshold(p));
  return Program(f.begin(), f.end());
}

// A UDP socket filter sees the UDP header first: byte 8 is the first of the payload.
const Program kFirstByteA = {{0x30, 0, 0, 8}, {0x15, 0, 1, 'A'}, {0x06, 0, 0, 0xffffffffu}, {0x06, 0, 0, 0}};

}  // namespace

TEST_CASE("composed behind a gate: the gate's drops, else the second's verdict", "[compose]") {
  const std::vector<std::uint8_t> a_packet = {0, 1, 0, 2, 0, 12, 0, 0, 'A', 'x', 'y', 'z'};
  const std::vector<std::uint8_t> b_packet = {0, 1, 0, 2, 0, 12, 0, 0, 'B', 'x', 'y', 'z'};
  const bpfvm::ValidatedProgram both = valid(composed(loss(0.5), kFirstByteA));
  const bpfvm::ValidatedProgram second = valid(kFirstByteA);
  for (std::uint32_t draw : {0u, 0x7fffffffu, 0x80000000u, 0xffffffffu}) {
    INFO("draw " << draw);
    const bool gate_keeps = draw > bpfvm::loss_threshold(0.5);
    for (const auto* packet : {&a_packet, &b_packet})
      CHECK(run(both, *packet, draw) == (gate_keeps ? run(second, *packet, draw) : 0u));
  }
  // The second's own truncation survives: ret #4 keeps 4 bytes.
  const bpfvm::ValidatedProgram trunc = valid(composed(loss(0.5), {{0x06, 0, 0, 4}}));
  CHECK(run(trunc, a_packet, 0xffffffffu) == 4);
  CHECK(run(trunc, a_packet, 0) == 0);
}

TEST_CASE("the junction starts the second program with A = X = 0", "[compose]") {
  const std::vector<std::uint8_t> packet(16, 0xee);
  // ret a and txa; ret a: what A and X were at the start. The gate leaves A = the draw.
  CHECK(run(valid(composed(loss(0.1), {{0x16, 0, 0, 0}})), packet, 0xfffffff0u) == 0);
  CHECK(run(valid(composed(loss(0.1), {{0x87, 0, 0, 0}, {0x16, 0, 0, 0}})), packet, 0xfffffff0u) == 0);
  // A gate that sets X (ldx #5) is no different: the second's ld [x + 0] reads byte 0.
  const Program gate_x = {{0x01, 0, 0, 5}, {0x06, 0, 0, 0xffffffffu}};
  CHECK(run(valid(composed(gate_x, {{0x50, 0, 0, 0}, {0x16, 0, 0, 0}})), {1, 2, 3, 4, 5, 6, 7}, 0) == 1);
}

TEST_CASE("composition refuses what it cannot express", "[compose]") {
  std::array<Instruction, 64> out{};
  // Not a gate: a return that truncates, or ret a.
  CHECK_FALSE(bpfvm::is_gate(Program{{0x06, 0, 0, 4}}));
  CHECK_FALSE(bpfvm::is_gate(Program{{0x16, 0, 0, 0}}));
  CHECK_FALSE(bpfvm::is_gate(Program{}));
  CHECK(bpfvm::compose_behind_gate(Program{{0x16, 0, 0, 0}}, kFirstByteA, out) == 0);
  CHECK(bpfvm::compose_behind_gate(loss(0.5), Program{}, out) == 0);
  CHECK(bpfvm::compose_behind_gate(loss(0.5), kFirstByteA, std::span(out).first(9)) == 0);
  CHECK(bpfvm::write_gate_prefix(loss(0.5), std::span(out).first(5)) == 0);
  CHECK(bpfvm::write_gate_prefix(loss(0.5), out) == bpfvm::gate_prefix_size(4));
  // Longer than BPF_MAXINSNS together, though each part alone is not.
  const Program big(bpfvm::kMaxInsns - 1, Instruction{0x06, 0, 0, 0});
  Program room(bpfvm::kMaxInsns + 8);
  CHECK(bpfvm::compose_behind_gate(loss(0.5), big, room) == 0);
  CHECK(bpfvm::compose_behind_gate(loss(0.5), Program(bpfvm::kMaxInsns - 6, Instruction{0x06, 0, 0, 0}), room) ==
        bpfvm::kMaxInsns);
}

TEST_CASE("check() answers as validate() does", "[compose][validator]") {
  const std::vector<Program> cases = {
      {},                                                    // empty
      {{0x06, 0, 0, 0}},                                     // fine
      {{0x15, 0, 5, 0}, {0x06, 0, 0, 0}},                    // jump out of range
      {{0x60, 0, 0, 3}, {0x06, 0, 0, 0}},                    // ld M[3] before st
      {{0x00, 0, 0, 1}, {0x02, 0, 0, 3}, {0x60, 0, 0, 3}, {0x16, 0, 0, 0}},   // st M[3] then ld: fine
      {{0x00, 0, 0, 1}},                                     // no return
      Program(bpfvm::kMaxInsns + 1, Instruction{0x06, 0, 0, 0}),
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    const auto v = bpfvm::validate(cases[i]);
    const auto c = bpfvm::check(cases[i]);
    CHECK(v.has_value() == !c.has_value());
    if (!v.has_value() && c.has_value()) CHECK(v.error() == *c);
  }
}
