#include "bpfvm/seccomp/run.h"

#include <array>

#include "bpfvm/interpreter.h"

namespace bpfvm::seccomp {

// The classic interpreter reads ld [k] big-endian from its packet, and a seccomp filter reads the
// word at k natively; so the context becomes a 64-byte packet holding each word big-endian. Its
// length, 64, is what ld len / ldx len must give. Every load is in bounds (validate_seccomp), so
// the interpreter's "out of bounds returns 0" can never fire here.
std::uint32_t run(const ValidatedProgram& program, const Data& data) {
  std::array<std::uint8_t, kDataSize> image;
  for (std::uint32_t k = 0; k < kDataSize; k += 4) {
    const std::uint32_t w = word(data, k);
    image[k] = static_cast<std::uint8_t>(w >> 24);
    image[k + 1] = static_cast<std::uint8_t>(w >> 16);
    image[k + 2] = static_cast<std::uint8_t>(w >> 8);
    image[k + 3] = static_cast<std::uint8_t>(w);
  }
  Context ctx;
  ctx.packet = image;
  return bpfvm::run(program.classic(), ctx);
}

}  // namespace bpfvm::seccomp
