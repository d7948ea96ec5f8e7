// The interpreter's form of a validated program, made once by validate(): one Op per classic
// instruction (same index, so jump offsets carry over unchanged) with a dense opcode that already
// says what the 16-bit code, and k, imply. A packet load at a non-negative offset is kLd*Abs
// (bounds check only); one at SKF_NET_OFF/SKF_LL_OFF is kLdAbsNeg; an ancillary one is kLdAnc.
// A load followed by a conditional jump on k gets a fused opcode in the load's slot (the jump's
// own slot keeps the plain jump, for the jumps that land on it), so the commonest tcpdump pair,
// "ldh [12]; jeq #0x800, ...", costs one dispatch.
#pragma once

#include <cstdint>
#include <vector>

#include "bpfvm/program.h"

namespace bpfvm {

enum class Opc : std::uint8_t {
  kRetK, kRetA,
  kLdImm, kLdxImm, kLdMem, kLdxMem, kStA, kStX, kLdLen, kLdxLen, kAToX, kXToA,
  kLdAbsW, kLdAbsH, kLdAbsB, kLdAbsNeg, kLdAnc, kLdIndW, kLdIndH, kLdIndB, kLdxMsh, kLdxMshNeg,
  kAddK, kSubK, kMulK, kDivK, kModK, kAndK, kOrK, kXorK, kLshK, kRshK,
  kAddX, kSubX, kMulX, kDivX, kModX, kAndX, kOrX, kXorX, kLshX, kRshX, kNegA,
  kJump, kJeqK, kJgtK, kJgeK, kJsetK, kJeqX, kJgtX, kJgeX, kJsetX,
  // A load at a non-negative offset (W, H, B) fused with the conditional jump on k after it.
  kLdAbsWJeqK, kLdAbsWJgtK, kLdAbsWJgeK, kLdAbsWJsetK,
  kLdAbsHJeqK, kLdAbsHJgtK, kLdAbsHJgeK, kLdAbsHJsetK,
  kLdAbsBJeqK, kLdAbsBJgtK, kLdAbsBJgeK, kLdAbsBJsetK,
  kLdIndHJeqK, kLdIndHJgtK, kLdIndHJgeK, kLdIndHJsetK,
};

struct Op {
  Opc op;
  std::uint8_t jt;
  std::uint8_t jf;
  std::uint8_t size;  // bytes loaded, for kLdAbsNeg; 0 otherwise
  std::uint32_t k;
};
static_assert(sizeof(Op) == 8);

// Precondition: `p` passed validate()'s checks.
std::vector<Op> decode(const Program& p);

}  // namespace bpfvm
