#include "netstack/header/icmpv4.h"

#include "netstack/header/checksum.h"

namespace netstack::header {

std::optional<Icmpv4View> Icmpv4View::parse(std::span<const std::byte> bytes) {
  if (bytes.size() < kSize) return std::nullopt;
  return Icmpv4View(bytes);
}

bool Icmpv4View::checksum_valid() const { return header::checksum(bytes_) == 0xffff; }

void emit(const Icmpv4Fields& f, std::span<const std::byte> payload, std::span<std::byte> out) {
  store8(out, 0, f.type);
  store8(out, 1, f.code);
  store_be16(out, 2, 0);
  store_be32(out, 4, f.rest_of_header);
  const std::uint16_t sum = checksum(payload, checksum(out.first(Icmpv4View::kSize)));
  store_be16(out, 2, finish(sum));
}

}  // namespace netstack::header
