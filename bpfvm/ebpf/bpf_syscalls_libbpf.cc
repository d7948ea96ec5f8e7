#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <vector>

#include "bpfvm/ebpf/bpf_syscalls.h"

namespace bpfvm::ebpf::sys {

bool available() { return true; }

Expected<int, std::string> load_socket_filter(std::span<const bpf_insn> insns) {
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "bpfvm", "GPL", insns.data(), insns.size(), &opts);
  if (fd >= 0) return fd;
  const int err = errno;
  // Load again with the verifier's log, only to say why.
  std::vector<char> log(1 << 16, '\0');
  LIBBPF_OPTS(bpf_prog_load_opts, verbose, .log_level = 1, .log_size = static_cast<__u32>(log.size()),
              .log_buf = log.data());
  fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "bpfvm", "GPL", insns.data(), insns.size(), &verbose);
  if (fd >= 0) return fd;  // a transient failure the second time round: use it
  std::string why = "bpf_prog_load: " + std::string(std::strerror(err));
  if (log[0] != '\0') why += "\nverifier log:\n" + std::string(log.data());
  return unexpected(why);
}

Expected<std::uint32_t, std::string> test_run(int fd, std::span<const std::uint8_t> frame, std::uint32_t mark) {
  __sk_buff ctx{};
  ctx.mark = mark;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = static_cast<__u32>(frame.size()),
              .ctx_in = &ctx, .ctx_size_in = sizeof ctx, .repeat = 1);
  if (bpf_prog_test_run_opts(fd, &opts) != 0)
    return unexpected("BPF_PROG_TEST_RUN: " + std::string(std::strerror(errno)));
  return opts.retval;
}

}  // namespace bpfvm::ebpf::sys
