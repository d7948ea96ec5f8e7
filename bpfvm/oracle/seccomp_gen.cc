#include "bpfvm/oracle/seccomp_gen.h"

#include <iterator>

#include "bpfvm/seccomp/data.h"

namespace bpfvm::oracle {

namespace sc = bpfvm::seccomp;

SyscallProbe SeccompGen::probe() {
  SyscallProbe p;
  p.int80 = int80_ && pick(0, 3) == 0;
  switch (pick(0, 5)) {
    case 0: case 1: p.nr = 1024 + pick(0, 40); break;
    case 2: p.nr = static_cast<std::uint64_t>(-1); break;  // "no call" (a tracer's skip)
    case 3: p.nr = sc::kX32SyscallBit | (1024 + pick(0, 40)); break;  // beyond the x32 table too
    case 4: p.nr = static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(0x80000000u | u32()))); break;
    default: p.nr = 0x7fff0000u + pick(0, 0xffff); break;
  }
  for (auto& a : p.args) {
    switch (pick(0, 3)) {
      case 0: a = pick(0, 8); break;
      case 1: a = u32(); break;
      case 2: a = (std::uint64_t{u32()} << 32) | pick(0, 3); break;
      default: a = rng_(); break;
    }
  }
  return p;
}

// A compare or ALU constant: often a word the probes will present, so both branches are taken.
std::uint32_t SeccompGen::constant() {
  switch (pick(0, 4)) {
    case 0: case 1: return words_[pick(0, words_.size() - 1)];
    case 2: return static_cast<std::uint32_t>(pick(0, 40));
    case 3: return sc::kX32SyscallBit;
    default: return u32();
  }
}

std::uint32_t SeccompGen::ret_value() {
  const std::uint32_t data = pick(0, 3) == 0 ? u32() & sc::kRetData : static_cast<std::uint32_t>(pick(0, 4095));
  switch (pick(0, 15)) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: return sc::kRetErrno | data;
    case 7: case 8: return sc::kRetTrap | data;
    case 9: return sc::kRetAllow | (pick(0, 1) ? 0 : data);
    case 10: return sc::kRetLog;
    case 11: return sc::kRetTrace | data;
    case 12: return sc::kRetUserNotif;
    case 13: return pick(0, 1) ? sc::kRetKillThread : sc::kRetKillProcess;
    default: return u32();  // mostly unknown actions: the kernel kills
  }
}

std::uint32_t SeccompGen::load_offset() {
  switch (pick(0, 9)) {
    case 0: return static_cast<std::uint32_t>(pick(0, 63));  // often unaligned
    case 1: return static_cast<std::uint32_t>(64 + pick(0, 8) * 4);
    case 2: return static_cast<std::uint32_t>(kSkfAdOff) + static_cast<std::uint32_t>(pick(0, 16) * 4);
    case 3: return u32();
    default: return static_cast<std::uint32_t>(pick(0, 15) * 4);
  }
}

void SeccompGen::item(Program& out) {
  static constexpr std::uint16_t kAlus[] = {kAdd, kSub, kMul, kDiv, kMod, kAnd, kOr, kXor, kLsh, kRsh};
  static constexpr std::uint16_t kJmps[] = {kJeq, kJgt, kJge, kJset};
  static constexpr std::uint16_t kSizes[] = {kH, kB};
  auto u16 = [](unsigned v) { return static_cast<std::uint16_t>(v); };
  // Mostly what seccomp accepts; cases 4, 5, 25 and the default are often refused, and a "clean"
  // program has none of them, so that about half the programs are accepted.
  std::size_t which = pick(0, 29);
  if (clean_ && (which == 4 || which == 5 || which == 25 || which == 21 || which == 20)) which = 0;
  switch (which) {
    case 0: case 1: case 2: case 3: case 22: case 23: case 24:
      out.push_back({kLd | kW | kAbs, 0, 0, static_cast<std::uint32_t>(pick(0, 15) * 4)});
      break;
    case 25: case 21: out.push_back({kLd | kW | kAbs, 0, 0, load_offset()}); break;
    case 4: out.push_back({u16(kLd | kSizes[pick(0, 1)] | (pick(0, 1) ? kAbs : kInd)), 0, 0, load_offset()}); break;
    case 5: out.push_back({u16(pick(0, 2) == 0 ? (kLdx | kB | kMsh) : pick(0, 1) ? (kLd | kW | kInd) : (kLdx | kW | kAbs)), 0, 0, load_offset()}); break;
    case 6: out.push_back({u16(pick(0, 1) ? (kLd | kW | kLen) : (kLdx | kW | kLen)), 0, 0, 0}); break;
    case 7: out.push_back({u16(pick(0, 1) ? (kLd | kImm) : (kLdx | kImm)), 0, 0, constant()}); break;
    case 8: out.push_back({u16(pick(0, 1) ? (kLd | kMem) : (kLdx | kMem)), 0, 0, static_cast<std::uint32_t>(pick(0, 16))}); break;
    case 9: out.push_back({u16(pick(0, 1) ? kSt : kStx), 0, 0, static_cast<std::uint32_t>(pick(0, 16))}); break;
    case 10: case 11: {
      const std::uint16_t op = clean_ ? kAlus[pick(0, 3)] : kAlus[pick(0, 9)];
      const std::uint32_t k = (op == kLsh || op == kRsh) ? static_cast<std::uint32_t>(pick(0, 33))
                              : (op == kDiv || op == kMod) ? static_cast<std::uint32_t>(pick(0, 9)) : constant();
      out.push_back({u16(kAlu | op | kK), 0, 0, k});
      break;
    }
    case 12: out.push_back({u16(kAlu | kAlus[pick(0, 9)] | kX), 0, 0, 0}); break;
    case 13: out.push_back({u16(pick(0, 2) == 0 ? (kAlu | kNeg) : pick(0, 1) ? (kMisc | kTax) : (kMisc | kTxa)), 0, 0, 0}); break;
    case 14: out.push_back({kJmp | kJa, 0, 0, 0}); break;  // offsets are filled in by next()
    case 15: case 16: case 17: case 26: case 27:
      out.push_back({u16(kJmp | kJmps[pick(0, 3)] | (pick(0, 3) == 0 ? kX : kK)), 0, 0, constant()});
      break;
    case 18: case 19: case 28: out.push_back({kRet | kK, 0, 0, ret_value()}); break;
    case 29: {  // A as the errno or trap data: observable whatever A holds
      out.push_back({kAlu | kAnd | kK, 0, 0, pick(0, 1) ? 0x0fffu : 0xffffu});
      out.push_back({kAlu | kOr | kK, 0, 0, pick(0, 2) ? sc::kRetErrno : sc::kRetTrap});
      out.push_back({kRet | kA, 0, 0, 0});
      break;
    }
    default:  // case 20: now and then a code nobody knows (or one seccomp's list leaves out)
      if (pick(0, 2) == 0) out.push_back({u16(pick(0, 1) ? pick(0, 0xff) : pick(0, 0xffff)), 0, 0, u32()});
      else out.push_back({kLd | kW | kAbs, 0, 0, static_cast<std::uint32_t>(pick(0, 15) * 4)});
      break;
  }
}

SeccompCase SeccompGen::next() {
  SeccompCase c;
  for (std::size_t i = pick(2, 6); i > 0; --i) c.probes.push_back(probe());
  words_.clear();
  for (const SyscallProbe& p : c.probes) {
    const sc::Data d = SeccompOracle::data(p);
    for (std::uint32_t k = 0; k < sc::kDataSize; k += 4) words_.push_back(sc::word(d, k));
  }
  clean_ = pick(0, 1) == 0;
  const std::size_t items = pick(1, 12);
  for (std::size_t i = 0; i < items; ++i) item(c.program);
  if ((clean_ || pick(0, 9) != 0) && bpf_class(c.program.back().code) != kRet)
    c.program.push_back(pick(0, 3) ? Instruction{kRet | kK, 0, 0, ret_value()} : Instruction{kRet | kA, 0, 0, 0});
  // Jump offsets, now that the length is known: mostly in range, sometimes one past the end.
  const std::size_t n = c.program.size();
  for (std::size_t pc = 0; pc < n; ++pc) {
    Instruction& in = c.program[pc];
    if (bpf_class(in.code) != kJmp) continue;
    const std::size_t room = n - pc - 1;
    auto off = [&]() -> std::size_t {
      return room == 0 || (!clean_ && pick(0, 9) == 0) ? pick(0, room + 2) : pick(0, room - 1);
    };
    if (bpf_op(in.code) == kJa) in.k = static_cast<std::uint32_t>(off());
    else { in.jt = static_cast<std::uint8_t>(off()); in.jf = static_cast<std::uint8_t>(off()); }
  }
  return c;
}

}  // namespace bpfvm::oracle
