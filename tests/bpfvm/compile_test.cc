// libpcap-compiled programs: bpfvm runs them exactly as libpcap's own bpf_filter() does, and the
// socket relocation keeps their verdict when the IP header moves to SKF_NET_OFF.
#include <catch2/catch.hpp>

#include <pcap/pcap.h>

#include <random>

#include "bpfvm/compile.h"
#include "bpfvm/interpreter.h"
#include "expressions.h"

namespace {

// IPv4 (IHL 5, DF, TTL 64) carrying `proto` with the given transport bytes.
std::vector<std::uint8_t> ipv4(std::uint8_t proto, std::uint32_t src, std::uint32_t dst,
                               const std::vector<std::uint8_t>& l4) {
  std::vector<std::uint8_t> b = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0};
  const std::size_t total = 20 + l4.size();
  b[2] = static_cast<std::uint8_t>(total >> 8);
  b[3] = static_cast<std::uint8_t>(total);
  for (std::uint32_t a : {src, dst})
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(a >> s));
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

std::vector<std::vector<std::uint8_t>> sample_packets() {
  std::mt19937 rng(3);
  std::vector<std::vector<std::uint8_t>> out;
  const std::uint32_t addrs[] = {0x7f000001, 0x0a000001, 0xe0000001, 0xc0a80101};
  const std::uint16_t ports[] = {53, 80, 443, 22, 5353, 40000, 1, 1024};
  for (int i = 0; i < 120; ++i) {
    const std::uint8_t proto = i % 3 == 0 ? 6 : i % 3 == 1 ? 17 : 1;
    std::vector<std::uint8_t> l4(proto == 6 ? 20 : 8);
    const std::uint16_t sp = ports[rng() % 8], dp = ports[rng() % 8];
    l4[0] = static_cast<std::uint8_t>(sp >> 8); l4[1] = static_cast<std::uint8_t>(sp);
    l4[2] = static_cast<std::uint8_t>(dp >> 8); l4[3] = static_cast<std::uint8_t>(dp);
    if (proto == 1) l4[0] = static_cast<std::uint8_t>(i % 2 ? 8 : 0);  // echo request / reply
    if (proto == 6) l4[13] = static_cast<std::uint8_t>(rng());           // flags
    for (std::size_t n = rng() % 12; n > 0; --n) l4.push_back(static_cast<std::uint8_t>(rng() % 2 ? 0xab : rng()));
    if (proto == 17) { l4[4] = 0; l4[5] = static_cast<std::uint8_t>(l4.size()); }
    out.push_back(ipv4(proto, addrs[rng() % 4], addrs[rng() % 4], l4));
  }
  return out;
}

}  // namespace

TEST_CASE("compiled programs: bpfvm matches libpcap's bpf_filter, before and after relocation", "[compile]") {
  const auto packets = sample_packets();
  std::size_t accepted = 0, dropped = 0;
  for (std::string_view expr : bpfvm::testing::kExpressions) {
    INFO("expression: " << expr);
    auto prog = bpfvm::compile(expr, bpfvm::Linktype::kRaw);
    REQUIRE(prog.has_value());
    auto socket_prog = bpfvm::relocate_raw_to_socket(*prog);
    REQUIRE(socket_prog.has_value());
    auto raw = bpfvm::validate(*prog);
    auto sock = bpfvm::validate(*socket_prog);
    REQUIRE(raw.has_value());
    REQUIRE(sock.has_value());
    std::vector<bpf_insn> insns;
    for (const auto& in : *prog) insns.push_back({in.code, in.jt, in.jf, in.k});
    for (const auto& pkt : packets) {
      const auto n = static_cast<unsigned>(pkt.size());
      const std::uint32_t want = bpf_filter(insns.data(), pkt.data(), n, n);
      bpfvm::Context raw_ctx;
      raw_ctx.packet = pkt;
      CHECK(bpfvm::run(*raw, raw_ctx) == want);
      // As a socket filter: offset 0 is the transport header, the IP header is at SKF_NET_OFF.
      bpfvm::Context sock_ctx;
      sock_ctx.packet = std::span<const std::uint8_t>(pkt).subspan(20);
      sock_ctx.net = std::span<const std::uint8_t>(pkt);
      CHECK(bpfvm::run(*sock, sock_ctx) == want);
      (want ? accepted : dropped)++;
    }
  }
  CHECK(accepted > 500);  // the sample exercises both verdicts
  CHECK(dropped > 500);
}

TEST_CASE("compile reports libpcap's error; relocation refuses len", "[compile]") {
  auto bad = bpfvm::compile("udp port banana", bpfvm::Linktype::kRaw);
  REQUIRE_FALSE(bad.has_value());
  CHECK_FALSE(bad.error().message.empty());
  auto less = bpfvm::compile("less 100", bpfvm::Linktype::kRaw);
  REQUIRE(less.has_value());
  auto moved = bpfvm::relocate_raw_to_socket(*less);
  REQUIRE_FALSE(moved.has_value());
  CHECK(moved.error().message.find("length") != std::string::npos);
  auto eth = bpfvm::compile("arp", bpfvm::Linktype::kEn10mb);
  REQUIRE(eth.has_value());
  CHECK((*eth)[0] == bpfvm::Instruction{0x28, 0, 0, 12});  // ldh [12]: the Ethernet type
}
