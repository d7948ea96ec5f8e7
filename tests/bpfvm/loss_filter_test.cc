// The inbound_loss socket filter (bpfvm/loss_filter.h), the shape the preload object attaches:
// the validator accepts it, and the interpreter, given the kernel's random draw as a fixed
// ancillary value, drops exactly the draws at or below the threshold and keeps the rest whole.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "bpfvm/interpreter.h"
#include "bpfvm/loss_filter.h"

namespace {

std::uint32_t run_with_random(const bpfvm::ValidatedProgram& p, std::uint32_t random) {
  static const std::vector<std::uint8_t> packet(64, 0xab);   // a UDP header and some payload
  bpfvm::Context ctx;
  ctx.packet = packet;
  ctx.anc.random = random;
  return bpfvm::run(p, ctx);
}

bpfvm::ValidatedProgram valid_filter(double p) {
  const bpfvm::LossFilter f = bpfvm::build_loss_filter(bpfvm::loss_threshold(p));
  auto v = bpfvm::validate(bpfvm::Program(f.begin(), f.end()));
  REQUIRE(v.has_value());
  return std::move(*v);
}

}  // namespace

TEST_CASE("loss_threshold: ceil(p * 2^32) draws of 2^32 drop", "[loss_filter]") {
  CHECK(bpfvm::loss_threshold(0.5) == 0x7fffffffu);
  CHECK(bpfvm::loss_threshold(1.0) == 0xffffffffu);
  CHECK(bpfvm::loss_threshold(0.25) == 0x3fffffffu);
  CHECK(bpfvm::loss_threshold(0.1) == 429496729u);   // ceil(429496729.6) - 1
  CHECK(bpfvm::loss_threshold(1e-300) == 0u);         // still one draw in 2^32
  CHECK(bpfvm::loss_threshold(0.0) == 0u);            // outside (0, 1]: the loader refuses it first
  static_assert(bpfvm::loss_threshold(0.5) == 0x7fffffffu, "usable at compile time");
}

TEST_CASE("the loss filter is four instructions the kernel accepts, reading SKF_AD_RANDOM", "[loss_filter]") {
  const bpfvm::LossFilter f = bpfvm::build_loss_filter(7);
  CHECK(f[0] == bpfvm::Instruction{0x20, 0, 0, 0xfffff038u});   // ld rand
  CHECK(f[1] == bpfvm::Instruction{0x25, 0, 1, 7});             // jgt #7, keep, drop
  CHECK(f[2] == bpfvm::Instruction{0x06, 0, 0, 0xffffffffu});   // ret #-1: the whole packet
  CHECK(f[3] == bpfvm::Instruction{0x06, 0, 0, 0});             // ret #0: dropped
  const bpfvm::ValidatedProgram p = valid_filter(0.3);
  CHECK(p.has_ancillary());
}

TEST_CASE("the interpreter drops the draws at or below the threshold", "[loss_filter]") {
  for (const double loss : {0.5, 0.1, 0.25, 1.0}) {
    INFO("loss " << loss);
    const bpfvm::ValidatedProgram p = valid_filter(loss);
    const std::uint32_t t = bpfvm::loss_threshold(loss);
    CHECK(run_with_random(p, 0) == 0);
    CHECK(run_with_random(p, t) == 0);
    if (t != 0xffffffffu) CHECK(run_with_random(p, t + 1) == bpfvm::kKeepWhole);
    // 65536 evenly spaced draws: the dropped fraction is the rule's (to 1/65536).
    std::uint32_t dropped = 0;
    for (std::uint32_t i = 0; i < 65536; ++i) dropped += run_with_random(p, i << 16) == 0;
    CHECK(dropped / 65536.0 == Approx(loss).margin(1.0 / 65536));
  }
  CHECK(run_with_random(valid_filter(1.0), 0xffffffffu) == 0);        // 1 drops every packet
  CHECK(run_with_random(valid_filter(1e-9), 0xffffffffu) == bpfvm::kKeepWhole);
}

TEST_CASE("compose_loss_filter: the match's returns lead to keep or to the loss filter", "[loss_filter]") {
  const auto composed = [](bpfvm::Program match, double loss) {
    std::array<bpfvm::Instruction, bpfvm::kMaxComposedLossFilter> out{};
    const std::size_t n = bpfvm::compose_loss_filter(match, bpfvm::loss_threshold(loss), out);
    REQUIRE(n == match.size() + 1 + bpfvm::kLossFilterSize);
    auto v = bpfvm::validate(bpfvm::Program(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)));
    REQUIRE(v.has_value());
    return std::move(*v);
  };
  const std::uint32_t keep = bpfvm::kKeepWhole;
  // ret #0: no match, so the packet is kept whatever the draw.
  CHECK(run_with_random(composed({{0x06, 0, 0, 0}}, 1.0), 0) == keep);
  // ret #k: a match, so the draw decides.
  const bpfvm::ValidatedProgram hit = composed({{0x06, 0, 0, 262144}}, 0.5);
  CHECK(run_with_random(hit, 0) == 0);
  CHECK(run_with_random(hit, 0x80000000u) == keep);
  // ret a: A = 0 keeps, anything else goes to the draw.
  CHECK(run_with_random(composed({{0x00, 0, 0, 0}, {0x16, 0, 0, 0}}, 1.0), 0) == keep);
  CHECK(run_with_random(composed({{0x00, 0, 0, 9}, {0x16, 0, 0, 0}}, 1.0), 0x12345678) == 0);
  // A branch with a return on each side (what libpcap emits): jeq #0, ret #1, ret #0 on A = 7.
  const bpfvm::ValidatedProgram branch = composed({{0x00, 0, 0, 7}, {0x15, 0, 1, 7}, {0x06, 0, 0, 1}, {0x06, 0, 0, 0}}, 1.0);
  CHECK(run_with_random(branch, 0xffffffffu) == 0);
  // Too long, empty, or no room: nothing written.
  std::array<bpfvm::Instruction, bpfvm::kMaxComposedLossFilter> out{};
  CHECK(bpfvm::compose_loss_filter(bpfvm::Program(bpfvm::kMaxMatchInsns + 1, {0x06, 0, 0, 0}), 0, out) == 0);
  CHECK(bpfvm::compose_loss_filter({}, 0, out) == 0);
  CHECK(bpfvm::compose_loss_filter(bpfvm::Program{{0x06, 0, 0, 0}}, 0, std::span(out).first(4)) == 0);
}
