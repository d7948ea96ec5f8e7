#include "shim/cmd/intercept.h"

namespace shim::cmd {

InterceptChoice choose_intercept(const std::string& requested, const ExecProbe& p) {
  if (requested == "preload") return {Intercept::kPreload, "--intercept preload"};
  if (requested == "seccomp") return {Intercept::kSeccomp, "--intercept seccomp"};
  if (p.kind == ExecProbe::Kind::kStatic)
    return {Intercept::kSeccomp, p.path + " is statically linked" + (p.go ? " (a Go program)" : "")};
  if (p.kind == ExecProbe::Kind::kDynamic && p.go && !p.setid)
    return {Intercept::kSeccomp, p.path + " is a Go program (its net package makes raw system calls)"};
  return {Intercept::kPreload, "auto"};
}

const char* intercept_name(Intercept m) { return m == Intercept::kSeccomp ? "seccomp" : "preload"; }

}  // namespace shim::cmd
