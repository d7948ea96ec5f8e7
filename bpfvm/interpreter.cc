#include "bpfvm/interpreter.h"

#include <cstring>
#include <optional>

namespace bpfvm {
namespace {

constexpr std::uint32_t kNlaHdrLen = 4;
constexpr std::uint16_t kNlaTypeMask = 0x3fff;  // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

// Netlink attribute headers are in host byte order, as the kernel reads them.
std::uint16_t load_host16(std::span<const std::uint8_t> b, std::size_t off) {
  std::uint16_t v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

// bpf_internal_load_pointer_neg_helper and the non-negative path of bpf_skb_load_helper_*:
// an offset picks a region, and the read must fit inside it.
std::optional<std::uint32_t> load(const Context& c, std::int32_t off, std::uint32_t size) {
  std::span<const std::uint8_t> region;
  std::uint32_t pos = 0;
  if (off >= 0) {
    region = c.packet;
    pos = static_cast<std::uint32_t>(off);
  } else if (off >= kSkfNetOff && c.net) {
    region = *c.net;
    pos = static_cast<std::uint32_t>(off - kSkfNetOff);
  } else if (off < kSkfNetOff && off >= kSkfLlOff && c.ll) {
    region = *c.ll;
    pos = static_cast<std::uint32_t>(off - kSkfLlOff);
  } else {
    return std::nullopt;
  }
  if (pos > region.size() || size > region.size() - pos) return std::nullopt;
  std::uint32_t v = 0;
  for (std::uint32_t i = 0; i < size; ++i) v = (v << 8) | region[pos + i];
  return v;
}

// nla_find: walk attributes while nla_ok() holds; `rem` may go negative after an aligned step.
std::uint32_t nla_find(std::span<const std::uint8_t> p, std::uint32_t pos, std::int64_t rem,
                       std::uint32_t type) {
  while (rem >= kNlaHdrLen) {
    const std::uint16_t len = load_host16(p, pos);
    if (len < kNlaHdrLen || len > rem) break;
    if ((load_host16(p, pos + 2) & kNlaTypeMask) == type) return pos;
    const std::uint32_t step = (len + 3u) & ~3u;  // NLA_ALIGN
    rem -= step;
    pos += step;
  }
  return 0;
}

std::uint32_t ancillary(const Context& c, std::uint32_t k, std::uint32_t a, std::uint32_t x) {
  const Ancillaries& n = c.anc;
  switch (static_cast<Ancillary>(k - static_cast<std::uint32_t>(kSkfAdOff))) {
    case Ancillary::kProtocol: return n.protocol & 0xffff;
    case Ancillary::kPktType: return n.pkttype & 0x7;
    case Ancillary::kIfIndex: return n.ifindex;
    case Ancillary::kNlAttr: return find_nlattr(c.packet, a, x);
    case Ancillary::kNlAttrNest: return find_nlattr_nest(c.packet, a, x);
    case Ancillary::kMark: return n.mark;
    case Ancillary::kQueue: return n.queue & 0xffff;
    case Ancillary::kHaType: return n.hatype & 0xffff;
    case Ancillary::kRxHash: return n.rxhash;
    case Ancillary::kCpu: return n.cpu;
    case Ancillary::kAluXorX: return a ^ x;
    case Ancillary::kVlanTag: return n.vlan_tag & 0xffff;
    case Ancillary::kVlanTagPresent: return n.vlan_tag_present != 0 ? 1 : 0;
    case Ancillary::kPayOffset: return n.pay_offset;
    case Ancillary::kRandom: return n.random;
    case Ancillary::kVlanTpid: return n.vlan_tpid & 0xffff;
  }
  return 0;  // unreachable: validate() admits only the offsets above
}

constexpr std::uint32_t size_of(std::uint16_t code) {
  return bpf_size(code) == kW ? 4 : bpf_size(code) == kH ? 2 : 1;
}

}  // namespace

std::uint32_t find_nlattr(std::span<const std::uint8_t> p, std::uint32_t a, std::uint32_t x) {
  if (p.size() < kNlaHdrLen || a > p.size() - kNlaHdrLen) return 0;
  return nla_find(p, a, static_cast<std::int64_t>(p.size() - a), x);
}

std::uint32_t find_nlattr_nest(std::span<const std::uint8_t> p, std::uint32_t a, std::uint32_t x) {
  if (p.size() < kNlaHdrLen || a > p.size() - kNlaHdrLen) return 0;
  const std::uint16_t len = load_host16(p, a);
  if (len > p.size() - a) return 0;
  // nla_find_nested: the payload after the header; a length below 4 leaves rem < 0.
  return nla_find(p, a + kNlaHdrLen, static_cast<std::int64_t>(len) - kNlaHdrLen, x);
}

std::uint32_t run(const ValidatedProgram& prog, const Context& c) {
  std::uint32_t a = 0, x = 0;
  std::uint32_t m[kMemWords] = {};
  // validate() guarantees every path ends at a ret and every jump stays inside the program.
  for (std::size_t pc = 0;; ++pc) {
    const Instruction& in = prog[pc];
    const std::uint32_t k = in.k;
    switch (in.code) {
      case kRet | kK: return k;
      case kRet | kA: return a;
      case kLd | kImm: a = k; break;
      case kLdx | kImm: x = k; break;
      case kLd | kMem: a = m[k]; break;
      case kLdx | kMem: x = m[k]; break;
      case kSt: m[k] = a; break;
      case kStx: m[k] = x; break;
      case kLd | kW | kLen: a = static_cast<std::uint32_t>(c.packet.size()); break;
      case kLdx | kW | kLen: x = static_cast<std::uint32_t>(c.packet.size()); break;
      case kMisc | kTax: x = a; break;
      case kMisc | kTxa: a = x; break;
      case kLd | kW | kAbs:
      case kLd | kH | kAbs:
      case kLd | kB | kAbs: {
        if (k >= static_cast<std::uint32_t>(kSkfAdOff)) { a = ancillary(c, k, a, x); break; }
        auto v = load(c, static_cast<std::int32_t>(k), size_of(in.code));
        if (!v) return 0;
        a = *v;
        break;
      }
      case kLd | kW | kInd:
      case kLd | kH | kInd:
      case kLd | kB | kInd: {
        // The kernel adds in 32 bits and hands the helper an int: X + k may reach SKF_NET_OFF.
        auto v = load(c, static_cast<std::int32_t>(x + k), size_of(in.code));
        if (!v) return 0;
        a = *v;
        break;
      }
      case kLdx | kB | kMsh: {
        auto v = load(c, static_cast<std::int32_t>(k), 1);
        if (!v) return 0;
        x = (*v & 0xf) << 2;
        break;
      }
      case kAlu | kAdd | kK: a += k; break;
      case kAlu | kAdd | kX: a += x; break;
      case kAlu | kSub | kK: a -= k; break;
      case kAlu | kSub | kX: a -= x; break;
      case kAlu | kMul | kK: a *= k; break;
      case kAlu | kMul | kX: a *= x; break;
      case kAlu | kDiv | kK: a /= k; break;  // k != 0: validated
      case kAlu | kDiv | kX: if (x == 0) return 0; a /= x; break;
      case kAlu | kMod | kK: a %= k; break;
      case kAlu | kMod | kX: if (x == 0) return 0; a %= x; break;
      case kAlu | kAnd | kK: a &= k; break;
      case kAlu | kAnd | kX: a &= x; break;
      case kAlu | kOr | kK: a |= k; break;
      case kAlu | kOr | kX: a |= x; break;
      case kAlu | kXor | kK: a ^= k; break;
      case kAlu | kXor | kX: a ^= x; break;
      case kAlu | kLsh | kK: a <<= k; break;  // k < 32: validated
      case kAlu | kLsh | kX: a <<= (x & 31); break;  // 32-bit eBPF shift: the count is masked
      case kAlu | kRsh | kK: a >>= k; break;
      case kAlu | kRsh | kX: a >>= (x & 31); break;
      case kAlu | kNeg: a = 0u - a; break;
      case kJmp | kJa: pc += k; break;
      case kJmp | kJeq | kK: pc += (a == k) ? in.jt : in.jf; break;
      case kJmp | kJeq | kX: pc += (a == x) ? in.jt : in.jf; break;
      case kJmp | kJgt | kK: pc += (a > k) ? in.jt : in.jf; break;
      case kJmp | kJgt | kX: pc += (a > x) ? in.jt : in.jf; break;
      case kJmp | kJge | kK: pc += (a >= k) ? in.jt : in.jf; break;
      case kJmp | kJge | kX: pc += (a >= x) ? in.jt : in.jf; break;
      case kJmp | kJset | kK: pc += (a & k) ? in.jt : in.jf; break;
      case kJmp | kJset | kX: pc += (a & x) ? in.jt : in.jf; break;
      default: return 0;  // unreachable: validate() admits only the opcodes above
    }
  }
}

}  // namespace bpfvm
