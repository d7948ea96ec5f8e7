// Built instead of bpf_syscalls_libbpf.cc when meson did not find libbpf.
#include "bpfvm/ebpf/bpf_syscalls.h"

namespace bpfvm::ebpf::sys {

bool available() { return false; }

Expected<int, std::string> load_socket_filter(std::span<const bpf_insn>) {
  return unexpected(std::string("built without libbpf"));
}

Expected<std::uint32_t, std::string> test_run(int, std::span<const std::uint8_t>, std::uint32_t) {
  return unexpected(std::string("built without libbpf"));
}

}  // namespace bpfvm::ebpf::sys
