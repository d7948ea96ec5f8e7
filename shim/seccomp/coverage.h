// What seccomp mode covers so far: the system calls its filter hands to the supervisor, and the
// rules it can carry out. A rule it cannot carry out is refused by name (`sockshim run
// --intercept seccomp`, `sockshim check --intercept seccomp`): never silently ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpfvm/expected.h"
#include "bpfvm/seccomp/builder.h"
#include "filters/table.h"

namespace shim::seccomp {

// x86-64 numbers handed to the supervisor: socket, socketpair, connect, listen, accept, accept4,
// close, sendto, recvfrom, sendmsg, recvmsg, sendmmsg and recvmmsg, and dup, dup2, dup3,
// close_range, execve, execveat, wait4 and waitid (a socket's numbers, a process's images and
// its children, for `closed`, the leaks and the process records) always (the stats need them),
// and fcntl when its cmd is F_DUPFD or F_DUPFD_CLOEXEC (build_filter: an argument compare); bind, shutdown,
// getsockopt and setsockopt only when `table` has a rule on that call type (nothing is counted
// for them, as in the preload object, so without a rule each would be a round trip for nothing),
// bind also when a rule matches `local_port` (the port a socket bound);
// read, write, readv and writev when needs_read_write() (docs/shim.md, "Sends and receives":
// the filter cannot tell a socket from a file, so every read and write of every fd would be a
// round trip). Everything else stays in the kernel.
std::vector<std::uint32_t> notified_syscalls(const filters::Table* table, bool read_write = false);
// read/write/readv/writev are notified: asked for (`sockshim run --seccomp-rw`), or a rule is on
// send or recv (Go, busybox and many others move a socket's bytes with read and write).
bool needs_read_write(const filters::Table* table, bool asked);

// The filter: the numbers above go to the listener, every other x86-64 call is allowed, other
// ABIs (int $0x80, x32) are killed as bpfvm's builder does by default. `table` may be null.
bpfvm::Expected<bpfvm::seccomp::ValidatedProgram, bpfvm::seccomp::BuildError> build_filter(
    const filters::Table* table = nullptr, bool read_write = false);

// One line per rule seccomp mode cannot carry out: "rule NAME (line L): why". Empty: all fine.
std::vector<std::string> unsupported_rules(const filters::Table& table);

}  // namespace shim::seccomp
