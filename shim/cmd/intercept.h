// How `sockshim run` reaches a program: the preload object, or seccomp user notification for
// what LD_PRELOAD cannot reach (static binaries, Go). docs/shim.md, "Two ways in".
#pragma once

#include <string>

#include "shim/cmd/elf_probe.h"

namespace shim::cmd {

enum class Intercept { kPreload, kSeccomp };

struct InterceptChoice {
  Intercept mode = Intercept::kPreload;
  std::string why;   // "asked for", "/bin/busybox is statically linked", ...
};

// requested: "auto", "preload" or "seccomp" (main.cc checks the word). auto takes seccomp for a
// static ELF and for a Go program (.go.buildinfo or a Go build ID), preload for anything else.
InterceptChoice choose_intercept(const std::string& requested, const ExecProbe& p);
const char* intercept_name(Intercept m);

}  // namespace shim::cmd
