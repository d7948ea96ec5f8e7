// libFuzzer target: arbitrary bytes as a program (8 bytes an instruction, little endian, as
// struct sock_filter) plus packet, network and link-layer bytes, through validate() and run();
// the same bytes as text through parse_any() and the printers. Must never crash or read out of
// bounds (run it under ASan/UBSan).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tests/fuzz/bpfvm/fuzz_program.h"
#include "bpfvm/asm/text.h"
#include "bpfvm/interpreter.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  // Byte 0: instruction count; bytes 1 and 2: where the packet splits into net and ll views.
  const std::size_t n = std::min<std::size_t>(data[0], (size - 3) / 8);
  const std::uint8_t* at = data + 3;
  const bpfvm::Program p = bpfvm::fuzz::program_from(at, n);
  const std::span<const std::uint8_t> rest(at, size - 3 - n * 8);
  const std::size_t ll_start = std::min<std::size_t>(data[1] % 32, rest.size());
  const std::size_t net_start = std::min<std::size_t>(ll_start + data[2] % 32, rest.size());
  bpfvm::Context ctx;
  ctx.ll = rest.subspan(ll_start);
  ctx.net = rest.subspan(net_start);
  ctx.packet = rest.subspan(std::min<std::size_t>(net_start + 20, rest.size()));
  ctx.anc.random = 4;
  (void)bpfvm::format_listing(p);
  (void)bpfvm::format_asm(p);
  if (auto v = bpfvm::validate(p)) (void)bpfvm::run(*v, ctx);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto q = bpfvm::parse_any(text)) (void)bpfvm::format_dd(*q);
  return 0;
}
