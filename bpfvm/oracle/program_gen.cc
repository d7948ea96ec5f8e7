#include "bpfvm/oracle/program_gen.h"

#include <iterator>

namespace bpfvm::oracle {

bool reads_unreproducible_ancillary(const Program& p) {
  for (const Instruction& in : p) {
    if (bpf_class(in.code) != kLd || bpf_mode(in.code) != kAbs) continue;
    if (in.k == ancillary_k(Ancillary::kRandom) || in.k == ancillary_k(Ancillary::kRxHash)) return true;
  }
  return false;
}

Program ProgramGen::program(std::size_t payload_len) {
  const std::size_t n = pick(1, 10);
  Program p;
  for (std::size_t i = 0; i < n; ++i) p.push_back(insn(i, n, payload_len));
  if (pick(0, 9) != 0) p.back() = pick(0, 1) ? Instruction{kRet | kA, 0, 0, 0}
                                             : Instruction{kRet | kK, 0, 0, ret_k(payload_len)};
  return p;
}

std::vector<std::uint8_t> ProgramGen::payload() {
  std::vector<std::uint8_t> b(pick(0, 40));
  for (auto& c : b) c = static_cast<std::uint8_t>(pick(0, 1) ? pick(0, 255) : pick(0, 15));
  return b;
}


std::uint32_t ProgramGen::ret_k(std::size_t payload_len) {
  switch (pick(0, 3)) {
    case 0: return 0;
    case 1: return u32();
    default: return static_cast<std::uint32_t>(pick(0, payload_len + 16));
  }
}

// A load offset: inside or just past the packet, the IPv4 or Ethernet header, ancillary, wild.
std::uint32_t ProgramGen::offset(std::size_t payload_len) {
  switch (pick(0, 5)) {
    case 0: case 1: return static_cast<std::uint32_t>(pick(0, payload_len + 12));
    case 2: return static_cast<std::uint32_t>(kSkfNetOff) + static_cast<std::uint32_t>(pick(0, 60));
    case 3: return static_cast<std::uint32_t>(kSkfLlOff) + static_cast<std::uint32_t>(pick(0, 74));
    case 4: {  // a deterministic SKF_AD_* or one the kernel does not know
      static constexpr std::uint32_t kUnknown[] = {1, 2, 64, 68, 0xffc};
      const std::uint32_t off = pick(0, 4) ? anc_[pick(0, anc_.size() - 1)]
                                           : kUnknown[pick(0, std::size(kUnknown) - 1)];
      return static_cast<std::uint32_t>(kSkfAdOff) + off;
    }
    default: return u32();
  }
}

std::uint32_t ProgramGen::small_or_wild() {
  switch (pick(0, 3)) {
    case 0: return 0;
    case 1: return u32();
    default: return static_cast<std::uint32_t>(pick(0, 40));
  }
}

Instruction ProgramGen::insn(std::size_t i, std::size_t n, std::size_t payload_len) {
  auto jump = [&]() -> std::uint8_t {
    const std::size_t room = n - i - 1;  // valid jt/jf are 0..room-1
    if (room == 0 || pick(0, 15) == 0) return static_cast<std::uint8_t>(pick(0, room + 2));
    return static_cast<std::uint8_t>(pick(0, room - 1));
  };
  static constexpr std::uint16_t kSizes[] = {kW, kH, kB};
  static constexpr std::uint16_t kAlus[] = {kAdd, kSub, kMul, kDiv, kMod, kAnd, kOr, kXor, kLsh, kRsh};
  static constexpr std::uint16_t kJmps[] = {kJeq, kJgt, kJge, kJset};
  const std::uint16_t size = kSizes[pick(0, 2)];
  switch (pick(0, 19)) {
    case 0: case 1: case 2:
      return {static_cast<std::uint16_t>(kLd | size | kAbs), 0, 0, offset(payload_len)};
    case 3: return {static_cast<std::uint16_t>(kLd | size | kInd), 0, 0, pick(0, 1) ? offset(payload_len) : small_or_wild()};
    case 4: return {kLd | kW | kLen, 0, 0, 0};
    case 5: return {pick(0, 1) ? std::uint16_t(kLd | kImm) : std::uint16_t(kLdx | kImm), 0, 0, small_or_wild()};
    case 6: return {static_cast<std::uint16_t>(pick(0, 1) ? (kLd | kMem) : (kLdx | kMem)), 0, 0, static_cast<std::uint32_t>(pick(0, 16))};
    case 7: return {static_cast<std::uint16_t>(pick(0, 1) ? kSt : kStx), 0, 0, static_cast<std::uint32_t>(pick(0, 16))};
    case 8: return {kLdx | kB | kMsh, 0, 0, offset(payload_len)};
    case 9: return {kLdx | kW | kLen, 0, 0, 0};
    case 10: case 11: {
      const std::uint16_t op = kAlus[pick(0, 9)];
      const std::uint32_t k = (op == kLsh || op == kRsh) ? static_cast<std::uint32_t>(pick(0, 33)) : small_or_wild();
      return {static_cast<std::uint16_t>(kAlu | op | kK), 0, 0, k};
    }
    case 12: return {static_cast<std::uint16_t>(kAlu | kAlus[pick(0, 9)] | kX), 0, 0, 0};
    case 13: return {static_cast<std::uint16_t>(pick(0, 2) == 0 ? (kAlu | kNeg) : pick(0, 1) ? (kMisc | kTax) : (kMisc | kTxa)), 0, 0, 0};
    case 14: {
      const std::size_t room = n - i - 1;
      return {kJmp | kJa, 0, 0, static_cast<std::uint32_t>(room == 0 ? pick(0, 2) : pick(0, room))};
    }
    case 15: case 16:
      return {static_cast<std::uint16_t>(kJmp | kJmps[pick(0, 3)] | (pick(0, 1) ? kX : kK)), jump(), jump(), small_or_wild()};
    case 17: return {static_cast<std::uint16_t>(kRet | (pick(0, 1) ? kA : kK)), 0, 0, ret_k(payload_len)};
    case 18: return {static_cast<std::uint16_t>(pick(0, 255)), 0, 0, small_or_wild()};  // mostly unknown codes
    default: return {static_cast<std::uint16_t>(kLd | size | kAbs), 0, 0,
                     static_cast<std::uint32_t>(kSkfAdOff) + static_cast<std::uint32_t>(anc_[pick(0, anc_.size() - 1)])};
  }
}
}  // namespace bpfvm::oracle
