// The kernel as the oracle (golang.org/x/net/bpf's method). A program is attached with
// SO_ATTACH_FILTER to a loopback UDP socket; a UDP socket's filter sees the skb from the UDP
// header on (skb->data), and sk_filter_trim_cap() keeps max(ret, 8) bytes of it, or drops it when
// ret is 0. So the payload recv() returns is min(len, max(ret, 8)) - 8 bytes, and an empty
// datagram is a delivery, not a drop. bpfvm runs the same program on the same bytes (the real
// UDP header, IPv4 header and loopback Ethernet header, rebuilt here) and must agree on every
// case; a program the kernel refuses with EINVAL must be one validate() refuses.
// Exits 77 (skip) with one line on stderr when SO_ATTACH_FILTER is unavailable.
#define CATCH_CONFIG_RUNNER
#include "tests/catch.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <random>
#include <set>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bpfvm/compile.h"
#include "bpfvm/interpreter.h"
#include "expressions.h"
#include "golden.h"
#include "bpfvm/oracle/loopback.h"
#include "bpfvm/oracle/program_gen.h"

using bpfvm::Instruction;
using bpfvm::Program;
using bpfvm::oracle::LoopbackOracle;
using bpfvm::oracle::Outcome;
using bpfvm::oracle::ProgramGen;
using bpfvm::oracle::reads_unreproducible_ancillary;

namespace {

std::string describe(const Program& p) {
  std::string s;
  for (const Instruction& in : p)
    s += "{" + std::to_string(in.code) + "," + std::to_string(in.jt) + "," + std::to_string(in.jf) +
         "," + std::to_string(in.k) + "} ";
  return s;
}

void check_agrees(LoopbackOracle& oracle, const Program& p, const std::vector<std::uint8_t>& payload) {
  const auto kernel_or_error = oracle.kernel(p, payload);
  INFO("program " << describe(p) << " payload " << payload.size() << " bytes");
  if (!kernel_or_error) FAIL("loopback: " << kernel_or_error.error());
  const Outcome& kernel = *kernel_or_error;
  const Outcome vm = oracle.predict(p, payload);
  INFO("kernel: " << to_string(kernel) << ", bpfvm: " << to_string(vm));
  REQUIRE(oracle.stray() == 0);
  CHECK(kernel == vm);
}

}  // namespace

TEST_CASE("kernel and bpfvm agree on every golden program", "[kernel][golden]") {
  auto opened = LoopbackOracle::open();
  if (!opened) FAIL(opened.error());
  LoopbackOracle& oracle = **opened;
  std::size_t compared = 0;
  for (const auto& g : bpfvm::testing::load_all_golden()) {
    // The kernel supplies the UDP header; the golden packet's tail past 8 bytes is the payload.
    if (reads_unreproducible_ancillary(g.prog)) continue;
    std::vector<std::uint8_t> payload;
    if (g.packet.size() > 8) payload.assign(g.packet.begin() + 8, g.packet.end());
    INFO("golden case " << g.name);
    check_agrees(oracle, g.prog, payload);
    ++compared;
  }
  CHECK(compared >= 40);
}

TEST_CASE("kernel and bpfvm agree on 4000 seeded random programs", "[kernel][random]") {
  auto opened = LoopbackOracle::open();
  if (!opened) FAIL(opened.error());
  LoopbackOracle& oracle = **opened;
  ProgramGen gen(0x5eed'b9f0);
  std::size_t refused = 0;
  std::set<std::uint16_t> accepted_codes;
  for (int i = 0; i < 4000; ++i) {
    const auto payload = gen.payload();
    const Program p = gen.program(payload.size());
    INFO("random program #" << i);
    if (!bpfvm::validate(p)) ++refused;
    else for (const Instruction& in : p) accepted_codes.insert(in.code);
    check_agrees(oracle, p, payload);
  }
  // Every opcode the kernel accepts occurred in some accepted program.
  for (std::uint32_t code = 0; code <= 0xffff; ++code)
    if (bpfvm::opcode_allowed(static_cast<std::uint16_t>(code))) {
      INFO("opcode " << code);
      CHECK(accepted_codes.count(static_cast<std::uint16_t>(code)) == 1);
    }
  // Both kinds must be well represented for the comparison to mean something.
  CHECK(refused > 400);
  CHECK(refused < 3600);
}

TEST_CASE("loopback ancillary values are what bpfvm assumes", "[kernel][ancillary]") {
  auto opened = LoopbackOracle::open();
  if (!opened) FAIL(opened.error());
  LoopbackOracle& oracle = **opened;
  const std::vector<std::uint8_t> payload(2000, 0xab);
  // ld <anc>; and #0x3ff; add #8; ret a: the delivered length reveals the low 10 bits.
  for (std::uint32_t off = 0; off < bpfvm::kSkfAdMax; off += 4) {
    const Program p = {{bpfvm::kLd | bpfvm::kW | bpfvm::kAbs, 0, 0, static_cast<std::uint32_t>(bpfvm::kSkfAdOff) + off},
                       {bpfvm::kAlu | bpfvm::kAnd | bpfvm::kK, 0, 0, 0x3ff},
                       {bpfvm::kAlu | bpfvm::kAdd | bpfvm::kK, 0, 0, 8},
                       {bpfvm::kRet | bpfvm::kA, 0, 0, 0}};
    if (off == 56 || off == 32) continue;  // RANDOM, RXHASH: not reproducible by construction
    INFO("SKF_AD offset " << off);
    check_agrees(oracle, p, payload);
  }
}

TEST_CASE("kernel and bpfvm agree on libpcap-compiled expressions relocated to SKF_NET_OFF", "[kernel][compile]") {
  auto opened = LoopbackOracle::open();
  if (!opened) FAIL(opened.error());
  LoopbackOracle& oracle = **opened;
  std::vector<std::string> exprs(bpfvm::testing::kExpressions.begin(), bpfvm::testing::kExpressions.end());
  // These match the oracle's real datagrams, so the accepting branch is exercised too.
  exprs.push_back("udp dst port " + std::to_string(oracle.rx_port()));
  exprs.push_back("udp src port " + std::to_string(oracle.tx_port()) + " and dst host 127.0.0.1");
  exprs.push_back("udp[4:2] > 12 and udp[8] = 0xab");
  ProgramGen gen(77);
  std::size_t delivered = 0;
  for (const std::string& expr : exprs) {
    INFO("expression: " << expr);
    auto prog = bpfvm::compile(expr, bpfvm::Linktype::kRaw);
    REQUIRE(prog.has_value());
    auto sock = bpfvm::relocate_raw_to_socket(*prog);
    REQUIRE(sock.has_value());
    for (int i = 0; i < 6; ++i) {
      auto payload = gen.payload();
      if (i % 2 == 0) payload.assign(payload.size() + 4, 0xab);
      check_agrees(oracle, *sock, payload);
      delivered += !oracle.predict(*sock, payload).dropped;
    }
  }
  CHECK(delivered > 50);
}

int main(int argc, char** argv) {
  if (auto why = LoopbackOracle::unavailable()) {
    std::cerr << "skip: " << *why << "\n";
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
