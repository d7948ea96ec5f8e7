#include "bpfvm/decoded.h"

namespace bpfvm {
namespace {

constexpr std::uint8_t size_of(std::uint16_t code) {
  return bpf_size(code) == kW ? 4 : bpf_size(code) == kH ? 2 : 1;
}

Opc alu(std::uint16_t code) {
  const bool x = bpf_src(code) == kX;
  switch (bpf_op(code)) {
    case kAdd: return x ? Opc::kAddX : Opc::kAddK;
    case kSub: return x ? Opc::kSubX : Opc::kSubK;
    case kMul: return x ? Opc::kMulX : Opc::kMulK;
    case kDiv: return x ? Opc::kDivX : Opc::kDivK;
    case kMod: return x ? Opc::kModX : Opc::kModK;
    case kAnd: return x ? Opc::kAndX : Opc::kAndK;
    case kOr: return x ? Opc::kOrX : Opc::kOrK;
    case kXor: return x ? Opc::kXorX : Opc::kXorK;
    case kLsh: return x ? Opc::kLshX : Opc::kLshK;
    case kRsh: return x ? Opc::kRshX : Opc::kRshK;
    default: return Opc::kNegA;
  }
}

Opc jump(std::uint16_t code) {
  const bool x = bpf_src(code) == kX;
  switch (bpf_op(code)) {
    case kJeq: return x ? Opc::kJeqX : Opc::kJeqK;
    case kJgt: return x ? Opc::kJgtX : Opc::kJgtK;
    case kJge: return x ? Opc::kJgeX : Opc::kJgeK;
    case kJset: return x ? Opc::kJsetX : Opc::kJsetK;
    default: return Opc::kJump;
  }
}

// ld/ldh/ldb [k]: the offset's sign picks packet, SKF_NET_OFF/SKF_LL_OFF, or ancillary.
Opc ld_abs(const Instruction& in) {
  if (in.k >= static_cast<std::uint32_t>(kSkfAdOff)) return Opc::kLdAnc;
  if (in.k >= 0x80000000u) return Opc::kLdAbsNeg;
  return bpf_size(in.code) == kW ? Opc::kLdAbsW : bpf_size(in.code) == kH ? Opc::kLdAbsH : Opc::kLdAbsB;
}

Opc one(const Instruction& in) {
  const std::uint16_t c = in.code;
  switch (bpf_class(c)) {
    case kRet: return (c & kA) ? Opc::kRetA : Opc::kRetK;
    case kLd:
      switch (bpf_mode(c)) {
        case kImm: return Opc::kLdImm;
        case kMem: return Opc::kLdMem;
        case kLen: return Opc::kLdLen;
        case kAbs: return ld_abs(in);
        default: return bpf_size(c) == kW ? Opc::kLdIndW : bpf_size(c) == kH ? Opc::kLdIndH : Opc::kLdIndB;
      }
    case kLdx:
      switch (bpf_mode(c)) {
        case kImm: return Opc::kLdxImm;
        case kMem: return Opc::kLdxMem;
        case kLen: return Opc::kLdxLen;
        default: return in.k >= 0x80000000u ? Opc::kLdxMshNeg : Opc::kLdxMsh;
      }
    case kSt: return Opc::kStA;
    case kStx: return Opc::kStX;
    case kAlu: return alu(c);
    case kJmp: return jump(c);
    default: return c == (kMisc | kTax) ? Opc::kAToX : Opc::kXToA;
  }
}

// The fused opcode for load `ld` followed by conditional jump `j`, or `ld` itself.
Opc fuse(Opc ld, Opc j) {
  const int jump_index = j == Opc::kJeqK ? 0 : j == Opc::kJgtK ? 1 : j == Opc::kJgeK ? 2 : j == Opc::kJsetK ? 3 : -1;
  if (jump_index < 0) return ld;
  Opc first;
  switch (ld) {
    case Opc::kLdAbsW: first = Opc::kLdAbsWJeqK; break;
    case Opc::kLdAbsH: first = Opc::kLdAbsHJeqK; break;
    case Opc::kLdAbsB: first = Opc::kLdAbsBJeqK; break;
    case Opc::kLdIndH: first = Opc::kLdIndHJeqK; break;
    default: return ld;
  }
  return static_cast<Opc>(static_cast<int>(first) + jump_index);
}

}  // namespace

std::vector<Op> decode(const Program& p) {
  std::vector<Op> ops;
  ops.reserve(p.size());
  for (const Instruction& in : p) {
    const Opc op = one(in);
    const std::uint8_t size = op == Opc::kLdAbsNeg ? size_of(in.code) : 0;
    ops.push_back(Op{op, in.jt, in.jf, size, in.k});
  }
  for (std::size_t i = 0; i + 1 < ops.size(); ++i) ops[i].op = fuse(ops[i].op, ops[i + 1].op);
  return ops;
}

}  // namespace bpfvm
