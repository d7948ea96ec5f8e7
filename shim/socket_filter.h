// A rule's inbound_loss filter and the program's own socket filter on one socket. The kernel
// keeps one filter per socket, so the shim keeps one program there: the rule's filter (bpfvm's
// loss filter, a gate that drops or keeps whole) with the program's own classic filter composed
// behind it (bpfvm/compose.h) once the program attaches one. The program keeps seeing its own
// world: SO_GET_FILTER shows its part only, SO_DETACH_FILTER takes its part away. Where the two
// cannot be one program (an eBPF filter, a composition past BPF_MAXINSNS or one the kernel
// refuses), the program's own filter wins and the rule is lifted from the socket.
//
// These functions make the real calls; the Switch keeps the per-socket record (FdEntry's
// loss_rule and own_filter_len) and the counts. Allocation-free: programs are read and composed
// in an mmap'd buffer (a filter may be 4 096 instructions, too many for a wrapped call's stack).
// The program's pointers are read and written with process_vm_readv/writev, so a bad one gets
// EFAULT, as from the kernel, rather than a fault in the shim.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "bpfvm/program.h"

namespace shim::socket_filter {

// The SOL_SOCKET options this module answers on a socket that carries a rule's filter.
// SO_LOCK_FILTER is not among them: it passes through (once locked, the kernel refuses every
// change, ours included). SO_GET_FILTER is SO_ATTACH_FILTER's number, SO_DETACH_BPF
// SO_DETACH_FILTER's.
constexpr bool concerns(bool set, int name) noexcept {
  return set ? name == SO_ATTACH_FILTER || name == SO_ATTACH_BPF || name == SO_DETACH_FILTER
             : name == SO_GET_FILTER;
}

// What one call did, for the program and for the Switch's record.
struct Result {
  int ret = 0;                // what the program's call returns: 0 or -1
  int err = 0;                // its errno when ret is -1
  bool armed = false;         // the gate is (still) on the socket, with own_len instructions behind it
  bool lifted = false;        // the gate left the socket: the program's own filter replaced it
  std::uint16_t own_len = 0;  // the program's classic filter behind the gate; 0: none
};

// Attaches the gate to fd in front of the classic filter already on it: one the program attached
// before a rule armed the socket, or one it inherited from its listening socket. own_hint < 0:
// all of that filter is the program's; else only its last own_hint instructions are (the rest is
// an earlier gate). Not armed, and lifted, when the program's filter and the gate do not fit in
// one program or the kernel refuses it; not armed, not lifted, when the kernel refuses the gate.
Result arm(int fd, std::span<const bpfvm::Instruction> gate, int own_hint) noexcept;

// setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, optval, optlen) on an armed socket: the program's
// filter behind the gate, or (when they cannot be composed) the program's alone, lifting the gate.
Result attach(int fd, std::span<const bpfvm::Instruction> gate, const void* optval, socklen_t optlen) noexcept;

// SO_ATTACH_BPF: an eBPF program cannot be composed with classic BPF; it replaces the gate.
Result attach_bpf(int fd, const void* optval, socklen_t optlen) noexcept;

// SO_DETACH_FILTER: the gate alone again. Without a filter of the program's own, ENOENT (EPERM
// once locked), as the kernel answers a socket without a filter.
Result detach(int fd, std::span<const bpfvm::Instruction> gate, std::uint16_t own_len) noexcept;

// getsockopt(SO_GET_FILTER): the program's part only, or none (length 0). prefix: the
// instructions in front of it (bpfvm::gate_prefix_size of the gate). When the kernel's filter is
// not what the record says (changed behind the shim's back), the kernel's answer unchanged.
Result get(int fd, std::size_t prefix, std::uint16_t own_len, void* optval, socklen_t* optlen) noexcept;

// The length of the program's part behind gate on fd's filter (0: the gate alone), or -1 when
// fd's filter does not start with gate. For a socket an earlier program image armed (execve
// keeps the socket and its filter, not the image's record of it).
int own_behind(int fd, std::span<const bpfvm::Instruction> gate) noexcept;

}  // namespace shim::socket_filter
