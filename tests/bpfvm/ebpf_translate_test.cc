// The classic → eBPF translation's shape, without a kernel (tests/bpfvm/ebpf_oracle_test.cc
// checks its meaning against BPF_PROG_TEST_RUN).
#include "tests/catch.h"

#include "bpfvm/ebpf/translate.h"

using bpfvm::Program;

namespace {

std::vector<bpf_insn> translated(const Program& p) {
  auto v = bpfvm::validate(p);
  REQUIRE(v.has_value());
  auto t = bpfvm::ebpf::translate(*v);
  REQUIRE(t.has_value());
  return *t;
}

constexpr std::size_t kPrologue = 3;  // A = 0, X = 0, R6 = ctx

}  // namespace

TEST_CASE("ancillary loads without a loadable eBPF form are refused at their index", "[ebpf]") {
  for (auto a : {bpfvm::Ancillary::kHaType, bpfvm::Ancillary::kPayOffset, bpfvm::Ancillary::kNlAttr,
                 bpfvm::Ancillary::kNlAttrNest}) {
    const Program p = {{bpfvm::kLd | bpfvm::kImm, 0, 0, 1},
                       {bpfvm::kLd | bpfvm::kW | bpfvm::kAbs, 0, 0, bpfvm::ancillary_k(a)},
                       {bpfvm::kRet | bpfvm::kA, 0, 0, 0}};
    auto v = bpfvm::validate(p);
    REQUIRE(v.has_value());
    auto t = bpfvm::ebpf::translate(*v);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().insn_index == 1);
    CHECK_FALSE(bpfvm::ebpf::ancillaries_translatable(p));
  }
}

TEST_CASE("unreachable classic instructions are left out (the verifier refuses dead code)", "[ebpf]") {
  const auto t = translated({{bpfvm::kRet | bpfvm::kK, 0, 0, 1},
                             {bpfvm::kLd | bpfvm::kImm, 0, 0, 2},
                             {bpfvm::kRet | bpfvm::kA, 0, 0, 0}});
  REQUIRE(t.size() == kPrologue + 2);
  CHECK(t[kPrologue].code == (BPF_ALU | BPF_MOV | BPF_K));
  CHECK(t[kPrologue].imm == 1);
  CHECK(t[kPrologue + 1].code == (BPF_JMP | BPF_EXIT));
}

TEST_CASE("a conditional jump with jt = 0 becomes the inverse test to jf", "[ebpf]") {
  // jgt #0x80000000, 0, 1: k above 2^31 must compare as unsigned 32-bit, hence JMP32.
  const auto t = translated({{bpfvm::kJmp | bpfvm::kJgt | bpfvm::kK, 0, 1, 0x80000000u},
                             {bpfvm::kRet | bpfvm::kK, 0, 0, 1},
                             {bpfvm::kRet | bpfvm::kK, 0, 0, 2}});
  REQUIRE(t.size() == kPrologue + 5);
  CHECK(t[kPrologue].code == (BPF_JMP32 | BPF_JLE | BPF_K));
  CHECK(static_cast<std::uint32_t>(t[kPrologue].imm) == 0x80000000u);
  CHECK(t[kPrologue].off == 2);  // over "mov w0, 1; exit" to "mov w0, 2"
}

TEST_CASE("division by X checks for zero and ends with 0, as classic BPF does", "[ebpf]") {
  const auto t = translated({{bpfvm::kAlu | bpfvm::kDiv | bpfvm::kX, 0, 0, 0}, {bpfvm::kRet | bpfvm::kA, 0, 0, 0}});
  REQUIRE(t.size() == kPrologue + 5);
  CHECK(t[kPrologue].code == (BPF_JMP | BPF_JNE | BPF_K));
  CHECK(t[kPrologue + 2].code == (BPF_JMP | BPF_EXIT));
  CHECK(t[kPrologue + 3].code == (BPF_ALU | BPF_DIV | BPF_X));
}
