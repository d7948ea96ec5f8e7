// Classic BPF programs as the kernel's struct sock_filter holds them (linux/filter.h), and the
// opcode fields named as in the kernel so code and spec can be grepped together.
#pragma once

#include <cstdint>
#include <vector>

namespace bpfvm {

struct Instruction {
  std::uint16_t code = 0;
  std::uint8_t jt = 0;
  std::uint8_t jf = 0;
  std::uint32_t k = 0;
  friend bool operator==(const Instruction&, const Instruction&) = default;
};

using Program = std::vector<Instruction>;

// Instruction classes and fields (linux/bpf_common.h).
inline constexpr std::uint16_t kLd = 0x00, kLdx = 0x01, kSt = 0x02, kStx = 0x03, kAlu = 0x04,
                               kJmp = 0x05, kRet = 0x06, kMisc = 0x07;
inline constexpr std::uint16_t kW = 0x00, kH = 0x08, kB = 0x10;
inline constexpr std::uint16_t kImm = 0x00, kAbs = 0x20, kInd = 0x40, kMem = 0x60, kLen = 0x80,
                               kMsh = 0xa0;
inline constexpr std::uint16_t kAdd = 0x00, kSub = 0x10, kMul = 0x20, kDiv = 0x30, kOr = 0x40,
                               kAnd = 0x50, kLsh = 0x60, kRsh = 0x70, kNeg = 0x80, kMod = 0x90,
                               kXor = 0xa0;
inline constexpr std::uint16_t kJa = 0x00, kJeq = 0x10, kJgt = 0x20, kJge = 0x30, kJset = 0x40;
inline constexpr std::uint16_t kK = 0x00, kX = 0x08, kA = 0x10;  // source: K, X; RET's A
inline constexpr std::uint16_t kTax = 0x00, kTxa = 0x80;

constexpr std::uint16_t bpf_class(std::uint16_t code) { return code & 0x07; }
constexpr std::uint16_t bpf_size(std::uint16_t code) { return code & 0x18; }
constexpr std::uint16_t bpf_mode(std::uint16_t code) { return code & 0xe0; }
constexpr std::uint16_t bpf_op(std::uint16_t code) { return code & 0xf0; }
constexpr std::uint16_t bpf_src(std::uint16_t code) { return code & 0x08; }

inline constexpr std::uint32_t kMaxInsns = 4096;  // BPF_MAXINSNS
inline constexpr std::uint32_t kMemWords = 16;    // BPF_MEMWORDS

// Negative load offsets (linux/filter.h). As uint32_t, as they sit in k.
inline constexpr std::int32_t kSkfAdOff = -0x1000;
inline constexpr std::int32_t kSkfNetOff = -0x100000;
inline constexpr std::int32_t kSkfLlOff = -0x200000;

// SKF_AD_* ancillary offsets, added to SKF_AD_OFF in k.
enum class Ancillary : std::uint32_t {
  kProtocol = 0, kPktType = 4, kIfIndex = 8, kNlAttr = 12, kNlAttrNest = 16, kMark = 20,
  kQueue = 24, kHaType = 28, kRxHash = 32, kCpu = 36, kAluXorX = 40, kVlanTag = 44,
  kVlanTagPresent = 48, kPayOffset = 52, kRandom = 56, kVlanTpid = 60,
};
inline constexpr std::uint32_t kSkfAdMax = 64;

// The k of an ld that reads ancillary field `a`.
constexpr std::uint32_t ancillary_k(Ancillary a) {
  return static_cast<std::uint32_t>(kSkfAdOff) + static_cast<std::uint32_t>(a);
}

}  // namespace bpfvm
