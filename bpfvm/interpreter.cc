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
[[gnu::always_inline]] inline std::optional<std::uint32_t> load(const Context& c, std::int32_t off,
                                                                 std::uint32_t size) {
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

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint32_t be16(const std::uint8_t* p) { return (std::uint32_t{p[0]} << 8) | p[1]; }

// The op after conditional jump `j`.
const Op* branch(const Op* j, bool taken) { return j + 1 + (taken ? j->jt : j->jf); }

// ld [x + k]: a non-negative sum reads the packet directly; a negative one may reach
// SKF_NET_OFF/SKF_LL_OFF (the slow path). False means "drop".
[[gnu::always_inline]] inline bool load_ind_negative(const Context& c, std::uint32_t off, std::uint32_t size, std::uint32_t& a) {
  auto v = load(c, static_cast<std::int32_t>(off), size);
  if (!v) return false;
  a = *v;
  return true;
}
// Inlined into each case with a constant size, so the fast path is a compare and a load. Nothing
// the interpreter does calls a function except an ancillary load, so a program without one runs
// in a leaf function (no registers to save, M[] in the red zone).
[[gnu::always_inline]] inline bool load_ind(const Context& c, std::uint32_t off, std::uint32_t size,
                                            std::uint32_t& a) {
  if (off >= 0x80000000u) return load_ind_negative(c, off, size, a);
  if (off + std::size_t{size} > c.packet.size()) return false;
  const std::uint8_t* p = c.packet.data() + off;
  a = size == 4 ? be32(p) : size == 2 ? be16(p) : p[0];
  return true;
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

namespace {

template <bool kHasAncillary>
[[gnu::always_inline]] inline std::uint32_t run_impl(const ValidatedProgram& prog, const Context& c) {
  const std::uint8_t* const pkt = c.packet.data();
  const std::size_t len = c.packet.size();
  std::uint32_t a = 0, x = 0;
  std::uint32_t m[kMemWords];  // not cleared: validate() proved no path reads M[k] before writing it
  // validate() guarantees every path ends at a ret and every jump stays inside the program, and
  // decode() that the fast loads' offsets are below 2^31 (so offset + size cannot wrap).
  for (const Op* op = prog.ops();;) {
    const std::uint32_t k = op->k;
    switch (op->op) {
      case Opc::kRetK: return k;
      case Opc::kRetA: return a;
      case Opc::kLdImm: a = k; break;
      case Opc::kLdxImm: x = k; break;
      case Opc::kLdMem: a = m[k]; break;
      case Opc::kLdxMem: x = m[k]; break;
      case Opc::kStA: m[k] = a; break;
      case Opc::kStX: m[k] = x; break;
      case Opc::kLdLen: a = static_cast<std::uint32_t>(len); break;
      case Opc::kLdxLen: x = static_cast<std::uint32_t>(len); break;
      case Opc::kAToX: x = a; break;
      case Opc::kXToA: a = x; break;
      case Opc::kLdAbsW: if (k + std::size_t{4} > len) return 0; a = be32(pkt + k); break;
      case Opc::kLdAbsH: if (k + std::size_t{2} > len) return 0; a = be16(pkt + k); break;
      case Opc::kLdAbsB: if (k >= len) return 0; a = pkt[k]; break;
      case Opc::kLdAbsNeg: {
        auto v = load(c, static_cast<std::int32_t>(k), op->size);
        if (!v) return 0;
        a = *v;
        break;
      }
      case Opc::kLdAnc:
        if constexpr (kHasAncillary) a = ancillary(c, k, a, x);
        else __builtin_unreachable();  // run() picks this instantiation only without them
        break;
      // The kernel adds in 32 bits and hands the helper an int: X + k may reach SKF_NET_OFF.
      case Opc::kLdIndW: if (!load_ind(c, x + k, 4, a)) return 0; break;
      case Opc::kLdIndH: if (!load_ind(c, x + k, 2, a)) return 0; break;
      case Opc::kLdIndB: if (!load_ind(c, x + k, 1, a)) return 0; break;
      case Opc::kLdxMsh: if (k >= len) return 0; x = (pkt[k] & 0xfu) << 2; break;
      case Opc::kLdxMshNeg: {
        auto v = load(c, static_cast<std::int32_t>(k), 1);
        if (!v) return 0;
        x = (*v & 0xf) << 2;
        break;
      }
      case Opc::kAddK: a += k; break;
      case Opc::kAddX: a += x; break;
      case Opc::kSubK: a -= k; break;
      case Opc::kSubX: a -= x; break;
      case Opc::kMulK: a *= k; break;
      case Opc::kMulX: a *= x; break;
      case Opc::kDivK: a /= k; break;  // k != 0: validated
      case Opc::kDivX: if (x == 0) return 0; a /= x; break;
      case Opc::kModK: a %= k; break;
      case Opc::kModX: if (x == 0) return 0; a %= x; break;
      case Opc::kAndK: a &= k; break;
      case Opc::kAndX: a &= x; break;
      case Opc::kOrK: a |= k; break;
      case Opc::kOrX: a |= x; break;
      case Opc::kXorK: a ^= k; break;
      case Opc::kXorX: a ^= x; break;
      case Opc::kLshK: a <<= k; break;  // k < 32: validated
      case Opc::kLshX: a <<= (x & 31); break;  // 32-bit eBPF shift: the count is masked
      case Opc::kRshK: a >>= k; break;
      case Opc::kRshX: a >>= (x & 31); break;
      case Opc::kNegA: a = 0u - a; break;
      case Opc::kJump: op += 1 + k; continue;
      case Opc::kJeqK: op = branch(op, a == k); continue;
      case Opc::kJgtK: op = branch(op, a > k); continue;
      case Opc::kJgeK: op = branch(op, a >= k); continue;
      case Opc::kJsetK: op = branch(op, (a & k) != 0); continue;
      case Opc::kJeqX: op = branch(op, a == x); continue;
      case Opc::kJgtX: op = branch(op, a > x); continue;
      case Opc::kJgeX: op = branch(op, a >= x); continue;
      case Opc::kJsetX: op = branch(op, (a & x) != 0); continue;
      // Fused load + jump: the load as above, then the jump in the next slot (op[1]).
      case Opc::kLdAbsWJeqK: if (k + std::size_t{4} > len) return 0; a = be32(pkt + k); op = branch(op + 1, a == op[1].k); continue;
      case Opc::kLdAbsWJgtK: if (k + std::size_t{4} > len) return 0; a = be32(pkt + k); op = branch(op + 1, a > op[1].k); continue;
      case Opc::kLdAbsWJgeK: if (k + std::size_t{4} > len) return 0; a = be32(pkt + k); op = branch(op + 1, a >= op[1].k); continue;
      case Opc::kLdAbsWJsetK: if (k + std::size_t{4} > len) return 0; a = be32(pkt + k); op = branch(op + 1, (a & op[1].k) != 0); continue;
      case Opc::kLdAbsHJeqK: if (k + std::size_t{2} > len) return 0; a = be16(pkt + k); op = branch(op + 1, a == op[1].k); continue;
      case Opc::kLdAbsHJgtK: if (k + std::size_t{2} > len) return 0; a = be16(pkt + k); op = branch(op + 1, a > op[1].k); continue;
      case Opc::kLdAbsHJgeK: if (k + std::size_t{2} > len) return 0; a = be16(pkt + k); op = branch(op + 1, a >= op[1].k); continue;
      case Opc::kLdAbsHJsetK: if (k + std::size_t{2} > len) return 0; a = be16(pkt + k); op = branch(op + 1, (a & op[1].k) != 0); continue;
      case Opc::kLdAbsBJeqK: if (k >= len) return 0; a = pkt[k]; op = branch(op + 1, a == op[1].k); continue;
      case Opc::kLdAbsBJgtK: if (k >= len) return 0; a = pkt[k]; op = branch(op + 1, a > op[1].k); continue;
      case Opc::kLdAbsBJgeK: if (k >= len) return 0; a = pkt[k]; op = branch(op + 1, a >= op[1].k); continue;
      case Opc::kLdAbsBJsetK: if (k >= len) return 0; a = pkt[k]; op = branch(op + 1, (a & op[1].k) != 0); continue;
      case Opc::kLdIndHJeqK: if (!load_ind(c, x + k, 2, a)) return 0; op = branch(op + 1, a == op[1].k); continue;
      case Opc::kLdIndHJgtK: if (!load_ind(c, x + k, 2, a)) return 0; op = branch(op + 1, a > op[1].k); continue;
      case Opc::kLdIndHJgeK: if (!load_ind(c, x + k, 2, a)) return 0; op = branch(op + 1, a >= op[1].k); continue;
      case Opc::kLdIndHJsetK: if (!load_ind(c, x + k, 2, a)) return 0; op = branch(op + 1, (a & op[1].k) != 0); continue;
      default: __builtin_unreachable();  // decode() makes only the opcodes above
    }
    ++op;
  }
}

[[gnu::noinline]] std::uint32_t run_with_ancillary(const ValidatedProgram& prog, const Context& c) {
  return run_impl<true>(prog, c);
}

}  // namespace

std::uint32_t run(const ValidatedProgram& prog, const Context& c) {
  if (prog.has_ancillary()) return run_with_ancillary(prog, c);
  return run_impl<false>(prog, c);
}

}  // namespace bpfvm
