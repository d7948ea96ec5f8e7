// What seccomp mode covers so far: the system calls its filter hands to the supervisor, and the
// rules it can carry out. A rule it cannot carry out is refused by name (`sockshim run
// --intercept seccomp`, `sockshim check --intercept seccomp`): never silently ignored.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bpfvm/expected.h"
#include "bpfvm/seccomp/builder.h"
#include "filters/table.h"

namespace shim::seccomp {

// x86-64 numbers: socket, connect, listen, accept, accept4, close. Everything else stays in the kernel.
std::span<const std::uint32_t> notified_syscalls();

// The filter: the numbers above go to the listener, every other x86-64 call is allowed, other
// ABIs (int $0x80, x32) are killed as bpfvm's builder does by default.
bpfvm::Expected<bpfvm::seccomp::ValidatedProgram, bpfvm::seccomp::BuildError> build_filter();

// One line per rule seccomp mode cannot carry out: "rule NAME (line L): why". Empty: all fine.
std::vector<std::string> unsupported_rules(const filters::Table& table);

}  // namespace shim::seccomp
