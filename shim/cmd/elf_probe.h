// Why a command might not load the shim: read from the executable itself, so `sockshim run` can
// say "statically linked" instead of silently counting nothing.
#pragma once

#include <string>

namespace shim::cmd {

struct ExecProbe {
  enum class Kind { kNotFound, kUnreadable, kDynamic, kStatic, kScript, kNotElf };
  Kind kind = Kind::kNotFound;
  std::string path;         // as resolved through PATH
  std::string interpreter;  // scripts: the #! line's program
  bool setid = false;       // set-user-ID or set-group-ID bit: secure-exec ignores LD_PRELOAD
  bool x86_64 = false;      // an x86-64 ELF: the only ABI seccomp mode's filter lets live
  bool go = false;          // Go linker sections (.go.buildinfo, .note.go.buildid): raw syscalls
};

ExecProbe probe_executable(const std::string& command);

// A sentence naming the likely cause for a command whose processes never attached.
std::string unattached_reason(const ExecProbe& p);

}  // namespace shim::cmd
