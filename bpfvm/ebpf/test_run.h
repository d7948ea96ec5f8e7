// The kernel as an oracle for the full 32-bit verdict: a classic program translated to eBPF
// (translate.h), loaded with libbpf as BPF_PROG_TYPE_SOCKET_FILTER and run on a frame with
// BPF_PROG_TEST_RUN, which returns the program's return value untrimmed (SO_ATTACH_FILTER only
// shows max(ret, 8) bytes of a datagram).
//
// What the program sees (bpf_prog_test_run_skb): the frame's first 14 bytes are an Ethernet
// header that eth_type_trans() pulls on the loopback device, so offset 0 and SKF_NET_OFF are the
// byte after it and SKF_LL_OFF is the frame's start; skb->protocol and skb->pkt_type come from
// that header; skb->mark from the context passed in; queue, hash and VLAN fields are 0.
// Needs libbpf at build time (otherwise unavailable() says so) and, in practice, root.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "bpfvm/context.h"
#include "bpfvm/expected.h"
#include "bpfvm/validator.h"

namespace bpfvm::ebpf {

inline constexpr std::size_t kEthHeader = 14;  // ETH_HLEN: the test run refuses shorter frames

// A loaded eBPF program (its file descriptor); closes it on destruction.
class LoadedProgram {
 public:
  explicit LoadedProgram(int fd) : fd_(fd) {}
  LoadedProgram(LoadedProgram&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  LoadedProgram& operator=(LoadedProgram&&) = delete;
  LoadedProgram(const LoadedProgram&) = delete;
  ~LoadedProgram();
  int fd() const { return fd_; }

 private:
  int fd_;
};

class TestRunOracle {
 public:
  // Why the oracle cannot run here (built without libbpf, the kernel refuses to load or test-run
  // a socket filter, e.g. without root), or nothing.
  static std::optional<std::string> unavailable();

  // Pins the calling thread to its current CPU, so SKF_AD_CPU is known.
  static Expected<std::unique_ptr<TestRunOracle>, std::string> open();

  // Translates and loads; the error names the classic instruction or carries the verifier's log.
  Expected<LoadedProgram, std::string> load(const ValidatedProgram& program) const;

  // Precondition: frame.size() >= kEthHeader. The test run also refuses (EINVAL) an IPv4 frame
  // (EtherType 0x0800) shorter than 34 bytes and an IPv6 one (0x86dd) shorter than 54: it reads
  // the addresses from the IP header.
  Expected<std::uint32_t, std::string> run(const LoadedProgram& program, std::span<const std::uint8_t> frame,
                                           std::uint32_t mark) const;

  // What bpfvm::run must be given to see what the eBPF program saw for `frame` (spans into it).
  Context context(std::span<const std::uint8_t> frame, std::uint32_t mark) const;

 private:
  TestRunOracle(std::uint32_t cpu, std::uint32_t lo_ifindex) : cpu_(cpu), lo_ifindex_(lo_ifindex) {}
  std::uint32_t cpu_;
  std::uint32_t lo_ifindex_;
};

}  // namespace bpfvm::ebpf
