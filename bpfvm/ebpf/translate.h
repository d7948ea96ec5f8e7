// Classic BPF → eBPF, the way the kernel converts a socket filter internally (bpf_convert_filter
// in net/core/filter.c), but as a program a user may load: A lives in R0, X in R7, the context
// (struct __sk_buff *) arrives in R1 and is kept in R6, M[] is 16 words on the stack, packet loads
// are eBPF's BPF_LD|BPF_ABS/BPF_IND (which the verifier turns into the kernel's skb load helpers,
// with the same SKF_NET_OFF / SKF_LL_OFF handling and "out of bounds ends the program with 0").
// Used by the BPF_PROG_TEST_RUN oracle (test_run.h). Needs only the kernel's UAPI headers.
#pragma once

#include <cstdint>
#include <linux/bpf.h>
#include <string>
#include <vector>

#include "bpfvm/expected.h"
#include "bpfvm/validator.h"

namespace bpfvm::ebpf {

struct TranslateError {
  std::uint32_t insn_index;  // the classic instruction that has no loadable eBPF form
  std::string message;
};

// Fails for the ancillary loads that a loaded program cannot express: the kernel's own
// conversion calls internal helpers (SKF_AD_NLATTR, NLATTR_NEST, PAY_OFFSET) or reads
// skb->dev->type (SKF_AD_HATYPE), none of which a program loaded through bpf(2) may use; and for
// programs whose jumps do not fit eBPF's 16-bit offsets.
Expected<std::vector<bpf_insn>, TranslateError> translate(const ValidatedProgram& program);

// True if translate() accepts every ancillary load in `p` (ignores the jump-range limit).
bool ancillaries_translatable(const Program& p);

}  // namespace bpfvm::ebpf
