#include "bpfvm/asm/text_util.h"

#include <array>
#include <charconv>

#include "bpfvm/program.h"

namespace bpfvm::text {
namespace {

struct AncName {
  Ancillary a;
  std::string_view libpcap;  // libpcap 1.10 bpf_image
  std::string_view bpf_asm;  // tools/bpf/bpf_asm; empty where bpf_asm has no keyword
};

constexpr std::array<AncName, 16> kNames = {{
    {Ancillary::kProtocol, "proto", "proto"},   {Ancillary::kPktType, "type", "type"},
    {Ancillary::kIfIndex, "ifidx", "ifidx"},    {Ancillary::kNlAttr, "nla", "nla"},
    {Ancillary::kNlAttrNest, "nlan", "nlan"},   {Ancillary::kMark, "mark", "mark"},
    {Ancillary::kQueue, "queue", "queue"},      {Ancillary::kHaType, "hatype", "hatype"},
    {Ancillary::kRxHash, "rxhash", "rxhash"},   {Ancillary::kCpu, "cpu", "cpu"},
    {Ancillary::kAluXorX, "xor_x", ""},         {Ancillary::kVlanTag, "vlan_tci", "vlan_tci"},
    {Ancillary::kVlanTagPresent, "vlanp", "vlan_avail"},
    {Ancillary::kPayOffset, "poff", "poff"},    {Ancillary::kRandom, "random", "rand"},
    {Ancillary::kVlanTpid, "vlan_tpid", "vlan_tpid"},
}};

}  // namespace

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      if (start < text.size()) out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::optional<std::uint32_t> parse_unsigned(std::string_view s) {
  s = trim(s);
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::uint32_t> parse_u32(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s[0] == '-') {
    auto mag = parse_unsigned(s.substr(1));
    if (!mag || *mag > 0x80000000u) return std::nullopt;
    return 0u - *mag;
  }
  return parse_unsigned(s);
}

std::optional<std::uint32_t> ancillary_from_name(std::string_view name) {
  for (const AncName& n : kNames)
    if (name == n.libpcap || (!n.bpf_asm.empty() && name == n.bpf_asm)) return ancillary_k(n.a);
  if (name == "vlan_pr") return ancillary_k(Ancillary::kVlanTagPresent);  // older bpf_asm
  return std::nullopt;
}

std::optional<std::string_view> libpcap_ancillary_name(std::uint32_t k) {
  for (const AncName& n : kNames)
    if (ancillary_k(n.a) == k) return n.libpcap;
  return std::nullopt;
}

std::optional<std::string_view> bpf_asm_ancillary_name(std::uint32_t k) {
  for (const AncName& n : kNames)
    if (ancillary_k(n.a) == k && !n.bpf_asm.empty()) return n.bpf_asm;
  return std::nullopt;
}

}  // namespace bpfvm::text
