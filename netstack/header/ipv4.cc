#include "netstack/header/ipv4.h"

#include <cstring>

#include "netstack/header/checksum.h"

namespace netstack::header {

namespace {
// RFC 791 3.1: single-octet options (EOL, NOP) or type-length-value with length >= 2.
bool options_well_formed(std::span<const std::byte> opts) {
  std::size_t i = 0;
  while (i < opts.size()) {
    const std::uint8_t type = load8(opts, i);
    if (type == kIpOptionEnd) return true;
    if (type == kIpOptionNop) {
      ++i;
      continue;
    }
    if (!fits(opts.size(), i, 2)) return false;
    const std::size_t len = load8(opts, i + 1);
    if (len < 2 || !fits(opts.size(), i, len)) return false;
    i += len;
  }
  return true;
}
}  // namespace

std::optional<Ipv4View> Ipv4View::parse(std::span<const std::byte> bytes) {
  if (bytes.size() < kMinSize) return std::nullopt;
  Ipv4View v(bytes);
  if (v.version() != 4) return std::nullopt;
  const std::size_t hlen = v.header_length();
  if (hlen < kMinSize || hlen > bytes.size()) return std::nullopt;
  if (v.total_length() < hlen || v.total_length() > bytes.size()) return std::nullopt;
  if (!options_well_formed(v.options())) return std::nullopt;
  return v;
}

bool Ipv4View::checksum_valid() const { return header::checksum(header_bytes()) == 0xffff; }

void emit(const Ipv4Fields& f, std::span<std::byte> out) {
  const std::size_t hlen = header_size(f);
  store8(out, 0, static_cast<std::uint8_t>(0x40 | (hlen / 4)));
  store8(out, 1, f.tos);
  store_be16(out, 2, f.total_length);
  store_be16(out, 4, f.id);
  store_be16(out, 6, f.flags_fragment);
  store8(out, 8, f.ttl);
  store8(out, 9, f.protocol);
  store_be16(out, 10, 0);
  store_be32(out, 12, f.src.value);
  store_be32(out, 16, f.dst.value);
  if (!f.options.empty()) std::memcpy(out.data() + Ipv4View::kMinSize, f.options.data(), f.options.size());
  store_be16(out, 10, finish(checksum(out.first(hlen))));
}

}  // namespace netstack::header
