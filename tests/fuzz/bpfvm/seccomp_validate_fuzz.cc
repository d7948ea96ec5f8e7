// libFuzzer target for the seccomp mode. Input: byte 0 is an instruction count, then 8 bytes an
// instruction (struct sock_filter, little endian), then up to 64 bytes of struct seccomp_data.
// Checks, beyond "no crash, no UB": a program validate_seccomp() accepts is one the classic
// validate() accepts, uses only seccomp's opcodes and aligned loads inside seccomp_data, and
// runs; a refusal is the classic one, or else a seccomp one. The same bytes as a filter spec
// must build a program that returns exactly what the spec says.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tests/fuzz/bpfvm/fuzz_program.h"
#include "bpfvm/seccomp/builder.h"
#include "bpfvm/seccomp/run.h"

namespace sc = bpfvm::seccomp;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

sc::Data data_from(const std::uint8_t* p, std::size_t n) {
  std::uint8_t raw[sc::kDataSize] = {};
  std::memcpy(raw, p, std::min<std::size_t>(n, sizeof raw));
  sc::Data d;
  std::memcpy(&d.nr, raw, 4);
  std::memcpy(&d.arch, raw + 4, 4);
  std::memcpy(&d.instruction_pointer, raw + 8, 8);
  std::memcpy(d.args.data(), raw + 16, 48);
  return d;
}

void validator(const bpfvm::Program& p, const sc::Data& d) {
  auto v = sc::validate_seccomp(p);
  auto classic = bpfvm::validate(p);
  if (v) {
    check(classic.has_value());
    for (const bpfvm::Instruction& in : p) {
      check(sc::seccomp_opcode_allowed(in.code));
      if (in.code == (bpfvm::kLd | bpfvm::kW | bpfvm::kAbs)) check(in.k < sc::kDataSize && in.k % 4 == 0);
    }
    (void)sc::run(*v, d);
  } else if (!classic) {
    check(v.error() == classic.error());
  } else {
    check(v.error().code == bpfvm::Errc::kSeccompOpcode || v.error().code == bpfvm::Errc::kSeccompLoad);
  }
}

// Bytes as a spec: arch, three actions, then (nr, action) pairs of 8 bytes.
void builder(const std::uint8_t* p, std::size_t n, sc::Data d) {
  if (n < 13) return;
  static constexpr std::uint32_t kArches[] = {sc::kAuditArchX86_64, sc::kAuditArchI386, sc::kAuditArchAarch64};
  sc::SyscallFilterSpec spec;
  spec.arch = kArches[p[0] % 3];
  std::memcpy(&spec.default_action, p + 1, 4);
  std::memcpy(&spec.bad_arch_action, p + 5, 4);
  std::memcpy(&spec.x32_action, p + 9, 4);
  bool x32_number = false;
  for (std::size_t off = 13; off + 8 <= n && spec.actions.size() < 600; off += 8) {
    std::uint32_t nr, action;
    std::memcpy(&nr, p + off, 4);
    std::memcpy(&action, p + off + 4, 4);
    if (nr & 0x80000000u) nr &= 0x3ff;  // mostly small numbers, like real lists
    spec.actions[nr] = action;
    x32_number = x32_number || nr >= sc::kX32SyscallBit;
  }
  auto built = sc::build_syscall_filter(spec);
  if (!built) {
    check(built.error() == sc::BuildError::kTooLong ||
          (built.error() == sc::BuildError::kX32Number && x32_number && spec.arch == sc::kAuditArchX86_64));
    return;
  }
  for (std::uint32_t arch : {spec.arch, d.arch}) {
    d.arch = arch;
    for (const auto& [nr, action] : spec.actions)
      for (std::uint32_t delta : {0u, 1u, 0xffffffffu}) {
        d.nr = static_cast<std::int32_t>(nr + delta);
        check(sc::run(*built, d) == sc::expected_action(spec, d));
      }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t n = std::min<std::size_t>(data[0], (size - 1) / 8);
  const std::uint8_t* at = data + 1;
  const bpfvm::Program p = bpfvm::fuzz::program_from(at, n);
  const sc::Data d = data_from(at, size - 1 - n * 8);
  validator(p, d);
  builder(data, size, d);
  return 0;
}
