// The two bpf(2) operations the test-run oracle needs. bpf_syscalls_libbpf.cc implements them
// with libbpf; bpf_syscalls_none.cc, chosen by meson when libbpf is absent, reports that.
#pragma once

#include <cstdint>
#include <linux/bpf.h>
#include <span>
#include <string>

#include "bpfvm/expected.h"

namespace bpfvm::ebpf::sys {

// True when built with libbpf.
bool available();

// bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER); returns the fd, or the error with the verifier log.
Expected<int, std::string> load_socket_filter(std::span<const bpf_insn> insns);

// One BPF_PROG_TEST_RUN of `fd` on `frame` with skb->mark = mark; returns the program's retval.
Expected<std::uint32_t, std::string> test_run(int fd, std::span<const std::uint8_t> frame, std::uint32_t mark);

}  // namespace bpfvm::ebpf::sys
