#include "bpfvm/ebpf/translate.h"

#include <cstddef>
#include <limits>
#include <optional>

namespace bpfvm::ebpf {
namespace {

// bpf_convert_filter's register mapping (BPF_REG_A, BPF_REG_X, BPF_REG_CTX, BPF_REG_TMP).
constexpr std::uint8_t kRegA = BPF_REG_0, kRegX = BPF_REG_7, kRegCtx = BPF_REG_6,
                       kRegTmp = BPF_REG_8, kRegFp = BPF_REG_10;

bpf_insn make(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off, std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

std::int32_t imm_of(std::uint32_t k) { return static_cast<std::int32_t>(k); }

// M[k] is the 32-bit word at fp - (16 - k) * 4, as in the kernel's conversion.
std::int16_t scratch_slot(std::uint32_t k) { return static_cast<std::int16_t>(-static_cast<int>((kMemWords - k) * 4)); }

std::int16_t skb_field(std::size_t offset) { return static_cast<std::int16_t>(offset); }

bool is_conditional(std::uint16_t code) { return bpf_class(code) == kJmp && bpf_op(code) != kJa; }

bool is_ancillary_load(const Instruction& in) {
  return bpf_class(in.code) == kLd && bpf_mode(in.code) == kAbs &&
         in.k >= static_cast<std::uint32_t>(kSkfAdOff);
}

// The ancillary loads that need a kernel-internal helper or a field outside struct __sk_buff.
bool ancillary_translatable(std::uint32_t k) {
  switch (static_cast<Ancillary>(k - static_cast<std::uint32_t>(kSkfAdOff))) {
    case Ancillary::kNlAttr:
    case Ancillary::kNlAttrNest:
    case Ancillary::kPayOffset:
    case Ancillary::kHaType: return false;
    default: return true;
  }
}

// Jumps only go forward, so one pass finds what some path reaches. The verifier refuses
// unreachable instructions, which classic programs may contain, so those are left out.
std::vector<bool> reachable(const Program& p) {
  std::vector<bool> r(p.size(), false);
  r[0] = true;
  for (std::size_t pc = 0; pc < p.size(); ++pc) {
    if (!r[pc]) continue;
    const Instruction& in = p[pc];
    if (bpf_class(in.code) == kRet) continue;
    if (in.code == (kJmp | kJa)) { r[pc + 1 + in.k] = true; continue; }
    if (is_conditional(in.code)) { r[pc + 1 + in.jt] = true; r[pc + 1 + in.jf] = true; continue; }
    r[pc + 1] = true;
  }
  return r;
}

class Emitter {
 public:
  explicit Emitter(std::size_t classic_len) : starts_(classic_len, 0) {}
  void emit(bpf_insn i) { out_.push_back(i); }
  // A jump to the start of classic instruction `target`; its offset is set by finish().
  void jump(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int32_t imm, std::uint32_t target) {
    fixups_.push_back({out_.size(), target});
    emit(make(code, dst, src, 0, imm));
  }
  // Classic instruction `classic_pc` starts here (dead ones start where the next one does).
  void start_of(std::uint32_t classic_pc) { starts_[classic_pc] = out_.size(); }

  Expected<std::vector<bpf_insn>, TranslateError> finish() && {
    for (const Fixup& f : fixups_) {
      const auto off = static_cast<std::ptrdiff_t>(starts_[f.target]) - static_cast<std::ptrdiff_t>(f.at) - 1;
      if (off > std::numeric_limits<std::int16_t>::max())
        return unexpected(TranslateError{f.target, "jump too long for eBPF's 16-bit offset"});
      out_[f.at].off = static_cast<std::int16_t>(off);
    }
    return std::move(out_);
  }

 private:
  struct Fixup {
    std::size_t at;
    std::uint32_t target;
  };
  std::vector<bpf_insn> out_;
  std::vector<Fixup> fixups_;
  std::vector<std::size_t> starts_;
};

// A = a 32-bit field of struct __sk_buff; the big-endian ones are swapped as ntohs() would.
void load_field(Emitter& e, std::size_t offset, bool network_order16) {
  e.emit(make(BPF_LDX | BPF_MEM | BPF_W, kRegA, kRegCtx, skb_field(offset), 0));
  if (network_order16) e.emit(make(BPF_ALU | BPF_END | BPF_TO_BE, kRegA, 0, 0, 16));
}

void call(Emitter& e, std::int32_t helper) { e.emit(make(BPF_JMP | BPF_CALL, 0, 0, 0, helper)); }

void ancillary(Emitter& e, std::uint32_t k) {
  switch (static_cast<Ancillary>(k - static_cast<std::uint32_t>(kSkfAdOff))) {
    case Ancillary::kProtocol: load_field(e, offsetof(__sk_buff, protocol), true); break;
    case Ancillary::kPktType: load_field(e, offsetof(__sk_buff, pkt_type), false); break;
    case Ancillary::kIfIndex: load_field(e, offsetof(__sk_buff, ifindex), false); break;
    case Ancillary::kMark: load_field(e, offsetof(__sk_buff, mark), false); break;
    case Ancillary::kQueue: load_field(e, offsetof(__sk_buff, queue_mapping), false); break;
    case Ancillary::kRxHash: load_field(e, offsetof(__sk_buff, hash), false); break;
    case Ancillary::kVlanTag: load_field(e, offsetof(__sk_buff, vlan_tci), false); break;
    case Ancillary::kVlanTagPresent: load_field(e, offsetof(__sk_buff, vlan_present), false); break;
    case Ancillary::kVlanTpid: load_field(e, offsetof(__sk_buff, vlan_proto), true); break;
    case Ancillary::kCpu: call(e, BPF_FUNC_get_smp_processor_id); break;
    case Ancillary::kRandom: call(e, BPF_FUNC_get_prandom_u32); break;
    case Ancillary::kAluXorX: e.emit(make(BPF_ALU | BPF_XOR | BPF_X, kRegA, kRegX, 0, 0)); break;
    case Ancillary::kNlAttr: case Ancillary::kNlAttrNest: case Ancillary::kPayOffset:
    case Ancillary::kHaType: break;  // refused by ancillary_translatable() before we get here
  }
}

// A conditional jump: to jt's target, else to jf's; a branch to the next instruction is implicit.
void conditional(Emitter& e, const Instruction& in, std::uint32_t pc) {
  const std::uint8_t src = bpf_src(in.code) == kX ? kRegX : 0;
  const std::int32_t imm = bpf_src(in.code) == kX ? 0 : imm_of(in.k);  // X forms must leave imm 0
  const std::uint8_t code = static_cast<std::uint8_t>(BPF_JMP32 | bpf_op(in.code) | bpf_src(in.code));
  const std::uint32_t t = pc + 1 + in.jt, f = pc + 1 + in.jf;
  if (in.jt == in.jf) {
    if (in.jt != 0) e.jump(BPF_JMP | BPF_JA, 0, 0, 0, t);
    return;
  }
  // JMP32 compares the low 32 bits with the immediate as an unsigned 32-bit value, so unlike the
  // kernel's 64-bit compare no zero-extension through a temporary is needed for k >= 2^31.
  if (in.jt != 0) e.jump(code, kRegA, src, imm, t);
  if (in.jf != 0) {
    if (in.jt == 0 && bpf_op(in.code) != kJset) {
      const std::uint8_t inverse = bpf_op(in.code) == kJeq ? BPF_JNE : bpf_op(in.code) == kJgt ? BPF_JLE : BPF_JLT;
      e.jump(static_cast<std::uint8_t>(BPF_JMP32 | inverse | bpf_src(in.code)), kRegA, src, imm, f);
    } else if (in.jt == 0) {  // jset #k, 0, f: no inverse test; skip the jump to f when set
      e.emit(make(code, kRegA, src, 1, imm));
      e.jump(BPF_JMP | BPF_JA, 0, 0, 0, f);
    } else {
      e.jump(BPF_JMP | BPF_JA, 0, 0, 0, f);
    }
  }
}

// Division and modulo by X = 0 end the program with 0 (classic semantics; eBPF's own would go on).
void alu_x(Emitter& e, std::uint16_t op) {
  if (op == kDiv || op == kMod) {
    e.emit(make(BPF_JMP | BPF_JNE | BPF_K, kRegX, 0, 2, 0));
    e.emit(make(BPF_ALU | BPF_MOV | BPF_K, kRegA, 0, 0, 0));
    e.emit(make(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  }
  e.emit(make(static_cast<std::uint8_t>(BPF_ALU | op | BPF_X), kRegA, kRegX, 0, 0));
}

void one(Emitter& e, const Instruction& in, std::uint32_t pc) {
  const std::uint32_t k = in.k;
  const std::uint16_t c = in.code;
  switch (bpf_class(c)) {
    case kRet:
      if ((c & kA) == 0) e.emit(make(BPF_ALU | BPF_MOV | BPF_K, kRegA, 0, 0, imm_of(k)));
      e.emit(make(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
      return;
    case kLd:
    case kLdx: {
      const std::uint8_t dst = bpf_class(c) == kLd ? kRegA : kRegX;
      switch (bpf_mode(c)) {
        case kImm: e.emit(make(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm_of(k))); return;
        case kMem: e.emit(make(BPF_LDX | BPF_MEM | BPF_W, dst, kRegFp, scratch_slot(k), 0)); return;
        case kLen: e.emit(make(BPF_LDX | BPF_MEM | BPF_W, dst, kRegCtx, skb_field(offsetof(__sk_buff, len)), 0)); return;
        case kAbs:
          if (is_ancillary_load(in)) { ancillary(e, k); return; }
          e.emit(make(static_cast<std::uint8_t>(BPF_LD | BPF_ABS | bpf_size(c)), 0, 0, 0, imm_of(k)));
          return;
        case kInd: e.emit(make(static_cast<std::uint8_t>(BPF_LD | BPF_IND | bpf_size(c)), 0, kRegX, 0, imm_of(k))); return;
        case kMsh:  // X = (P[k] & 0xf) << 2 through A, which is saved and restored around it
          e.emit(make(BPF_ALU64 | BPF_MOV | BPF_X, kRegTmp, kRegA, 0, 0));
          e.emit(make(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, imm_of(k)));
          e.emit(make(BPF_ALU | BPF_AND | BPF_K, kRegA, 0, 0, 0xf));
          e.emit(make(BPF_ALU | BPF_LSH | BPF_K, kRegA, 0, 0, 2));
          e.emit(make(BPF_ALU | BPF_MOV | BPF_X, kRegX, kRegA, 0, 0));
          e.emit(make(BPF_ALU64 | BPF_MOV | BPF_X, kRegA, kRegTmp, 0, 0));
          return;
      }
      return;
    }
    case kSt: e.emit(make(BPF_STX | BPF_MEM | BPF_W, kRegFp, kRegA, scratch_slot(k), 0)); return;
    case kStx: e.emit(make(BPF_STX | BPF_MEM | BPF_W, kRegFp, kRegX, scratch_slot(k), 0)); return;
    case kAlu:
      if (bpf_op(c) == kNeg) e.emit(make(BPF_ALU | BPF_NEG, kRegA, 0, 0, 0));
      else if (bpf_src(c) == kX) alu_x(e, bpf_op(c));
      else e.emit(make(static_cast<std::uint8_t>(BPF_ALU | bpf_op(c) | BPF_K), kRegA, 0, 0, imm_of(k)));
      return;
    case kJmp:
      if (bpf_op(c) == kJa) {
        if (k != 0) e.jump(BPF_JMP | BPF_JA, 0, 0, 0, pc + 1 + k);
      } else {
        conditional(e, in, pc);
      }
      return;
    case kMisc:
      if (c == (kMisc | kTax)) e.emit(make(BPF_ALU | BPF_MOV | BPF_X, kRegX, kRegA, 0, 0));
      else e.emit(make(BPF_ALU | BPF_MOV | BPF_X, kRegA, kRegX, 0, 0));
      return;
  }
}

bool uses_scratch(const Program& p) {
  for (const Instruction& in : p)
    if (in.code == kSt || in.code == kStx || in.code == (kLd | kMem) || in.code == (kLdx | kMem)) return true;
  return false;
}

}  // namespace

bool ancillaries_translatable(const Program& p) {
  for (const Instruction& in : p)
    if (is_ancillary_load(in) && !ancillary_translatable(in.k)) return false;
  return true;
}

Expected<std::vector<bpf_insn>, TranslateError> translate(const ValidatedProgram& vp) {
  const Program& p = vp.program();
  for (std::uint32_t pc = 0; pc < p.size(); ++pc)
    if (is_ancillary_load(p[pc]) && !ancillary_translatable(p[pc].k))
      return unexpected(TranslateError{pc, "ancillary load with no eBPF equivalent for a loaded program"});
  Emitter e(p.size());
  // Classic BPF starts with A = X = 0; the context pointer must survive helper calls (R6).
  e.emit(make(BPF_ALU | BPF_MOV | BPF_K, kRegA, 0, 0, 0));
  e.emit(make(BPF_ALU | BPF_MOV | BPF_K, kRegX, 0, 0, 0));
  e.emit(make(BPF_ALU64 | BPF_MOV | BPF_X, kRegCtx, BPF_REG_1, 0, 0));
  // validate() proved no path reads M[k] before writing it; zeroing only keeps the verifier from
  // having to agree (it refuses uninitialised stack reads for unprivileged loaders).
  if (uses_scratch(p))
    for (int slot = 1; slot <= static_cast<int>(kMemWords / 2); ++slot)
      e.emit(make(BPF_ST | BPF_MEM | BPF_DW, kRegFp, 0, static_cast<std::int16_t>(-8 * slot), 0));
  const std::vector<bool> live = reachable(p);
  for (std::uint32_t pc = 0; pc < p.size(); ++pc) {
    e.start_of(pc);
    if (live[pc]) one(e, p[pc], pc);
  }
  return std::move(e).finish();
}

}  // namespace bpfvm::ebpf
