// Small lexing helpers shared by the text parsers (internal to bpfvm/asm).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bpfvm::text {

std::string_view trim(std::string_view s);
std::vector<std::string_view> split_lines(std::string_view text);
// Decimal (optionally negative) or 0x hex; a value must fit in 32 bits, negative ones as int32,
// and is returned as the uint32_t bit pattern.
std::optional<std::uint32_t> parse_u32(std::string_view s);
std::optional<std::uint32_t> parse_unsigned(std::string_view s);  // no sign accepted
// The SKF_AD_* ancillary names, libpcap's spelling (listing) and bpf_asm's (asm).
std::optional<std::uint32_t> ancillary_from_name(std::string_view name);
std::optional<std::string_view> libpcap_ancillary_name(std::uint32_t k);
std::optional<std::string_view> bpf_asm_ancillary_name(std::uint32_t k);

// concat("[x + ", dec(k), "]"): appends left to right. Not `"[x + " + std::string`: that operator
// inserts at the front of its right operand, where GCC 12 at -O3 reports a false -Wrestrict
// (GCC bug 105651) that breaks a release build with -Werror.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

}  // namespace bpfvm::text
