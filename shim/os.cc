#include "shim/os.h"

#include <sys/syscall.h>

#include "shim/real.h"
#include "shim/sys.h"

namespace shim::os {

// fstat and the ids through the syscall instruction (no libc symbol version to need); the socket
// options through the real functions, as the program's own calls go; the addresses through
// libc, which the shim does not wrap.
int fstat(int fd, struct stat* st) noexcept { return sys::fstat(fd, st); }
int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept {
  return real::getsockopt(fd, level, name, value, len);
}
int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  return real::setsockopt(fd, level, name, value, len);
}
int getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept { return ::getsockname(fd, addr, len); }
int getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept { return ::getpeername(fd, addr, len); }
pid_t getpid() noexcept { return sys::getpid(); }
pid_t gettid() noexcept { return static_cast<pid_t>(sys::syscall(SYS_gettid)); }

}  // namespace shim::os
