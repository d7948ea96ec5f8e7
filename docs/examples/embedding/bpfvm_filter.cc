// An embedder of bpfvm, built against the installed library only:
//   c++ -std=c++20 bpfvm_filter.cc $(pkg-config --cflags --libs sockshim-bpfvm) -o bpfvm_filter
// Compiles a tcpdump expression with libpcap, validates it with the kernel's rules, and runs it
// on two IPv4/UDP packets: one to port 53 (accepted), one to port 54 (dropped).
#include <cstdint>
#include <cstdio>
#include <vector>

#include "bpfvm/compile.h"
#include "bpfvm/interpreter.h"
#include "bpfvm/validator.h"

namespace {

// A 20-byte IPv4 header (no options) and an 8-byte UDP header to dst_port, no payload.
std::vector<std::uint8_t> udp_packet(std::uint16_t dst_port) {
  return {0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
          0x30, 0x39, static_cast<std::uint8_t>(dst_port >> 8),
          static_cast<std::uint8_t>(dst_port & 0xff), 0, 8, 0, 0};
}

}  // namespace

int main() {
  auto compiled = bpfvm::compile("udp dst port 53", bpfvm::Linktype::kRaw);
  if (!compiled) {
    std::fprintf(stderr, "compile: %s\n", compiled.error().message.c_str());
    return 1;
  }
  auto program = bpfvm::validate(*compiled);
  if (!program) {
    std::fprintf(stderr, "validate: %s at instruction %u\n",
                 std::string(bpfvm::reason(program.error().code)).c_str(),
                 program.error().insn_index);
    return 1;
  }
  int failures = 0;
  for (const auto& [port, accept] : {std::pair{53, true}, std::pair{54, false}}) {
    const auto packet = udp_packet(static_cast<std::uint16_t>(port));
    bpfvm::Context ctx;
    ctx.packet = packet;
    const std::uint32_t ret = bpfvm::run(*program, ctx);
    std::printf("udp dst port %d: ret %u (%s)\n", port, ret, ret ? "accepted" : "dropped");
    if ((ret != 0) != accept) ++failures;
  }
  return failures == 0 ? 0 : 1;
}
