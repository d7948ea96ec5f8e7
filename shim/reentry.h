// A per-thread depth counter: calls made while the shim sets itself up or tears down, and calls
// libc makes through the PLT from inside getaddrinfo (NSS modules), pass straight through.
// initial-exec TLS: touching it never allocates a TLS block, so it is safe in any context.
#pragma once

namespace shim {

// constinit: no dynamic initialisation, so reading it is one %fs load, not a TLS wrapper call.
extern constinit thread_local unsigned t_depth __attribute__((tls_model("initial-exec")));

}  // namespace shim

// Set by the vfork trampoline (wrappers.cc) in the calling thread; C names for the assembly.
extern "C" {
extern constinit thread_local int sockshim_vfork_hint __attribute__((tls_model("initial-exec")));
extern void* sockshim_real_vfork __attribute__((visibility("hidden")));
}

namespace shim {

class ReentryGuard {
 public:
  ReentryGuard() noexcept : outermost_(t_depth++ == 0) {}
  ~ReentryGuard() { --t_depth; }
  ReentryGuard(const ReentryGuard&) = delete;
  ReentryGuard& operator=(const ReentryGuard&) = delete;
  bool outermost() const noexcept { return outermost_; }

 private:
  bool outermost_;
};

}  // namespace shim
