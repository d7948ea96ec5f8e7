// The second kernel oracle: each program is translated to eBPF (bpfvm/ebpf/translate.h), loaded
// as a socket filter and run with BPF_PROG_TEST_RUN, whose return value is the full 32-bit
// verdict; bpfvm::run on the same bytes (the context the test run builds, test_run.h) must
// return exactly the same number. Random programs use only the ancillary loads a loaded eBPF
// program can express and a test run's skb defines (oracle::kTestRunAncillaries says why).
// Exits 77 (skip) with one line on stderr when the kernel will not load or test-run a filter.
#define CATCH_CONFIG_RUNNER
#include "tests/catch.h"

#include <iostream>
#include <set>
#include <string>

#include "bpfvm/compile.h"
#include "bpfvm/ebpf/test_run.h"
#include "bpfvm/ebpf/translate.h"
#include "bpfvm/interpreter.h"
#include "bpfvm/oracle/frame_gen.h"
#include "bpfvm/oracle/program_gen.h"
#include "expressions.h"
#include "golden.h"

using bpfvm::Instruction;
using bpfvm::Program;
using bpfvm::ebpf::TestRunOracle;

namespace {

std::string describe(const Program& p) {
  std::string s;
  for (const Instruction& in : p)
    s += "{" + std::to_string(in.code) + "," + std::to_string(in.jt) + "," + std::to_string(in.jf) +
         "," + std::to_string(in.k) + "} ";
  return s;
}

std::string hex(const std::vector<std::uint8_t>& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t c : b) { out += kDigits[c >> 4]; out += kDigits[c & 0xf]; }
  return out;
}

TestRunOracle& oracle() {
  static auto opened = TestRunOracle::open();
  if (!opened) FAIL(opened.error());
  return **opened;
}

// Loads `p` (which must validate and translate) and compares every frame; returns how many
// frames the program accepted (non-zero verdict).
std::size_t check_agrees(const Program& p, const std::vector<std::vector<std::uint8_t>>& frames,
                         const std::vector<std::uint32_t>& marks) {
  INFO("program " << describe(p));
  auto v = bpfvm::validate(p);
  REQUIRE(v.has_value());
  auto loaded = oracle().load(*v);
  if (!loaded) FAIL(loaded.error());
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    INFO("frame " << hex(frames[i]) << " mark " << marks[i]);
    auto kernel = oracle().run(*loaded, frames[i], marks[i]);
    if (!kernel) FAIL(kernel.error());
    const std::uint32_t vm = bpfvm::run(*v, oracle().context(frames[i], marks[i]));
    CHECK(*kernel == vm);
    accepted += vm != 0;
  }
  return accepted;
}

}  // namespace

TEST_CASE("test-run ancillary values are what bpfvm assumes", "[kernel][ebpf][ancillary]") {
  bpfvm::oracle::FrameGen gen(11);
  std::vector<std::vector<std::uint8_t>> frames;
  std::vector<std::uint32_t> marks;
  for (int i = 0; i < 40; ++i) {
    frames.push_back(gen.frame());
    marks.push_back(gen.mark());
  }
  for (std::uint32_t off : bpfvm::oracle::kTestRunAncillaries) {
    INFO("SKF_AD offset " << off);
    check_agrees({{bpfvm::kLd | bpfvm::kW | bpfvm::kAbs, 0, 0, static_cast<std::uint32_t>(bpfvm::kSkfAdOff) + off},
                  {bpfvm::kRet | bpfvm::kA, 0, 0, 0}},
                 frames, marks);
  }
}

TEST_CASE("test run and bpfvm agree on the golden programs", "[kernel][ebpf][golden]") {
  std::size_t compared = 0;
  for (const auto& g : bpfvm::testing::load_all_golden()) {
    if (g.reject_reason || !bpfvm::ebpf::ancillaries_translatable(g.prog)) continue;
    if (bpfvm::oracle::reads_unreproducible_ancillary(g.prog)) continue;
    // The golden packet follows an Ethernet header to the loopback device's own address, with
    // an EtherType that is not IP (the test run would refuse a short IP packet).
    std::vector<std::uint8_t> frame = {0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0x88, 0xb5};
    frame.insert(frame.end(), g.packet.begin(), g.packet.end());
    INFO("golden case " << g.name);
    check_agrees(g.prog, {frame}, {0});
    ++compared;
  }
  CHECK(compared >= 40);
}

TEST_CASE("test run and bpfvm agree on 2000 seeded random valid programs", "[kernel][ebpf][random]") {
  bpfvm::oracle::ProgramGen programs(0x5eed'eb9f, bpfvm::oracle::kTestRunAncillaries);
  bpfvm::oracle::FrameGen frames(0xf4a3e);
  std::set<std::uint16_t> codes;
  std::set<std::uint32_t> ancillaries;
  std::size_t valid = 0, accepted = 0;
  for (int i = 0; i < 20000 && valid < 2000; ++i) {
    std::vector<std::vector<std::uint8_t>> fs;
    std::vector<std::uint32_t> marks;
    for (int j = 0; j < 3; ++j) {
      fs.push_back(frames.frame());
      marks.push_back(frames.mark());
    }
    const Program p = programs.program(fs[0].size() - bpfvm::ebpf::kEthHeader);
    if (!bpfvm::validate(p)) continue;
    ++valid;
    INFO("random program #" << i);
    accepted += check_agrees(p, fs, marks);
    for (const Instruction& in : p) {
      codes.insert(in.code);
      if (bpfvm::bpf_class(in.code) == bpfvm::kLd && bpfvm::bpf_mode(in.code) == bpfvm::kAbs &&
          in.k >= static_cast<std::uint32_t>(bpfvm::kSkfAdOff))
        ancillaries.insert(in.k - static_cast<std::uint32_t>(bpfvm::kSkfAdOff));
    }
  }
  CHECK(valid == 2000);
  for (std::uint32_t code = 0; code <= 0xffff; ++code)
    if (bpfvm::opcode_allowed(static_cast<std::uint16_t>(code))) {
      INFO("opcode " << code);
      CHECK(codes.count(static_cast<std::uint16_t>(code)) == 1);
    }
  CHECK(ancillaries.size() == std::size(bpfvm::oracle::kTestRunAncillaries));
  CHECK(accepted > 1000);
}

TEST_CASE("test run and bpfvm agree on libpcap-compiled expressions", "[kernel][ebpf][compile]") {
  // Compiled for raw IP: offset 0 is the IP header, which is where the test run's skb->data is.
  bpfvm::oracle::FrameGen frames(53);
  std::size_t accepted = 0;
  for (std::string_view expr : bpfvm::testing::kExpressions) {
    INFO("expression: " << expr);
    auto prog = bpfvm::compile(expr, bpfvm::Linktype::kRaw);
    REQUIRE(prog.has_value());
    std::vector<std::vector<std::uint8_t>> fs;
    std::vector<std::uint32_t> marks;
    for (int j = 0; j < 8; ++j) {
      fs.push_back(frames.frame());
      marks.push_back(0);
    }
    accepted += check_agrees(*prog, fs, marks);
  }
  CHECK(accepted > 50);
}

int main(int argc, char** argv) {
  if (auto why = TestRunOracle::unavailable()) {
    std::cerr << "skip: " << *why << "\n";
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
