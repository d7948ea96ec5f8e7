// The system calls the preload object makes before main (attaching the stats segment, mapping its
// tables), made with the syscall instruction itself: a libc function would be bound through the
// PLT on its first call, a symbol lookup of about 700 instructions in every process the shim
// starts in (docs/performance.md, "Start-up"). errno is set as by the libc functions these stand
// for. For x86-64 (and, through libc's syscall(), aarch64), whose kernel struct stat is glibc's.
#pragma once

#include <errno.h>
#include <type_traits>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace shim::sys {

// -1 with errno set, as libc's syscall() answers; the kernel's value otherwise.
inline long syscall6(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) noexcept {
#if defined(__x86_64__)
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  if (ret < 0 && ret > -4096) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
#else
  return ::syscall(n, a, b, c, d, e, f);
#endif
}

template <class T>
inline long arg(T v) noexcept {
  if constexpr (std::is_pointer_v<T>) return reinterpret_cast<long>(v);
  else if constexpr (std::is_null_pointer_v<T>) return 0;
  else return static_cast<long>(v);
}

template <class... Args>
inline long syscall(long n, Args... args) noexcept {
  return syscall6(n, arg(args)...);
}

inline int open(const char* path, int flags, mode_t mode = 0) noexcept {
  return static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}
inline int close(int fd) noexcept { return static_cast<int>(syscall(SYS_close, fd)); }
inline int fstat(int fd, struct stat* st) noexcept { return static_cast<int>(syscall(SYS_fstat, fd, st)); }
inline int flock(int fd, int op) noexcept { return static_cast<int>(syscall(SYS_flock, fd, op)); }
inline int fchmod(int fd, mode_t mode) noexcept { return static_cast<int>(syscall(SYS_fchmod, fd, mode)); }
inline int ftruncate(int fd, off_t len) noexcept { return static_cast<int>(syscall(SYS_ftruncate, fd, len)); }
inline void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  return reinterpret_cast<void*>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));   // -1: MAP_FAILED
}
inline int munmap(void* addr, size_t len) noexcept { return static_cast<int>(syscall(SYS_munmap, addr, len)); }
inline off_t lseek(int fd, off_t off, int whence) noexcept { return syscall(SYS_lseek, fd, off, whence); }
inline ssize_t pread(int fd, void* buf, size_t n, off_t off) noexcept { return syscall(SYS_pread64, fd, buf, n, off); }
inline int madvise(void* addr, size_t len, int advice) noexcept {
  return static_cast<int>(syscall(SYS_madvise, addr, len, advice));
}
inline pid_t getpid() noexcept { return static_cast<pid_t>(syscall(SYS_getpid)); }
inline pid_t getppid() noexcept { return static_cast<pid_t>(syscall(SYS_getppid)); }
inline uid_t geteuid() noexcept { return static_cast<uid_t>(syscall(SYS_geteuid)); }
inline int getrlimit(int resource, struct rlimit* rl) noexcept {
  return static_cast<int>(syscall(SYS_prlimit64, 0, resource, nullptr, rl));
}

}  // namespace shim::sys
