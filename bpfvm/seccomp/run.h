// Runs a validated seccomp filter over a struct seccomp_data and returns its 32-bit action value,
// as the kernel's converted program does: ld [k] is a native 32-bit load from the context
// (seccomp_check_filter rewrites it to BPF_LDX|BPF_W|BPF_ABS, which bpf_convert_filter turns into
// BPF_LDX_MEM(BPF_W, A, CTX, k)), ld len and ldx len give sizeof(struct seccomp_data) = 64, and
// everything else is the classic machine's (div by X = 0 returns 0, shifts by X mod 32).
#pragma once

#include <cstdint>

#include "bpfvm/seccomp/data.h"
#include "bpfvm/seccomp/validator.h"

namespace bpfvm::seccomp {

std::uint32_t run(const ValidatedProgram& program, const Data& data);

}  // namespace bpfvm::seccomp
