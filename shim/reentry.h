// A per-thread depth counter: calls made while the shim sets itself up or tears down, and calls
// libc makes through the PLT from inside getaddrinfo (NSS modules), pass straight through.
// initial-exec TLS: touching it never allocates a TLS block, so it is safe in any context.
#pragma once

namespace shim {

extern thread_local unsigned t_depth __attribute__((tls_model("initial-exec")));

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
