#include "bpfvm/oracle/frame_gen.h"

namespace bpfvm::oracle {
namespace {

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::size_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

}  // namespace

std::vector<std::uint8_t> FrameGen::frame() {
  std::vector<std::uint8_t> f(14, 0);
  // Destination: the loopback device's own (all zero), broadcast, multicast, another host.
  switch (pick(0, 3)) {
    case 0: break;
    case 1: std::fill(f.begin(), f.begin() + 6, 0xff); break;
    case 2: f[0] = 0x01; f[1] = 0x00; f[2] = 0x5e; f[5] = byte(); break;
    default: f[0] = 0x02; for (std::size_t i = 1; i < 6; ++i) f[i] = byte(); break;
  }
  for (std::size_t i = 6; i < 12; ++i) f[i] = byte();
  static constexpr std::uint16_t kTypes[] = {0x0800, 0x0800, 0x0800, 0x86dd, 0x0806, 0x8100};
  const std::size_t type = pick(0, 7) < 6 ? kTypes[pick(0, 5)] : pick(0, 1) ? pick(0x600, 0xffff) : pick(0, 0x5ff);
  put16(f, 12, type);
  const std::size_t body = pick(0, 9);
  if (type < 0x600 && body == 0) { f.push_back(0xff); f.push_back(0xff); }  // raw 802.3 (IPX)
  if (body >= 3) {
    // IPv4 with a 20-byte header (sometimes options), protocol UDP or TCP, loopback addresses.
    const std::size_t ihl = pick(0, 4) ? 5 : pick(5, 7);
    std::vector<std::uint8_t> ip(ihl * 4, 0);
    ip[0] = static_cast<std::uint8_t>(0x40 | ihl);
    ip[6] = pick(0, 1) ? 0x40 : 0;
    ip[8] = 64;
    ip[9] = pick(0, 1) ? 17 : 6;
    ip[12] = ip[16] = 127;
    ip[15] = ip[19] = 1;
    std::vector<std::uint8_t> l4(ip[9] == 17 ? 8 : 20, 0);
    put16(l4, 0, pick(1, 65535));
    put16(l4, 2, pick(0, 1) ? 80 : pick(1, 65535));
    if (ip[9] == 6) l4[12] = 0x50, l4[13] = byte();
    std::vector<std::uint8_t> payload(pick(0, 24));
    for (auto& b : payload) b = byte();
    put16(ip, 2, ip.size() + l4.size() + payload.size());
    if (ip[9] == 17) put16(l4, 4, l4.size() + payload.size());
    f.insert(f.end(), ip.begin(), ip.end());
    f.insert(f.end(), l4.begin(), l4.end());
    f.insert(f.end(), payload.begin(), payload.end());
  } else {
    const std::size_t n = pick(0, 40);
    for (std::size_t i = 0; i < n; ++i) f.push_back(pick(0, 1) ? byte() : static_cast<std::uint8_t>(pick(0, 15)));
  }
  // The test run refuses IPv4 and IPv6 frames too short for their IP header's addresses.
  if (type == 0x0800 && f.size() < 34) f.resize(34);
  if (type == 0x86dd && f.size() < 54) f.resize(54);
  return f;
}

std::uint32_t FrameGen::mark() {
  switch (pick(0, 2)) {
    case 0: return 0;
    case 1: return static_cast<std::uint32_t>(pick(1, 255));
    default: return static_cast<std::uint32_t>(rng_());
  }
}

}  // namespace bpfvm::oracle
