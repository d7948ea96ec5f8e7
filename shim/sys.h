// The system calls the preload object makes before main (attaching the stats segment, mapping its
// tables), made through libc's syscall(): the loader binds that one function instead of one per
// call, and each first call through the PLT costs a symbol lookup of about 700 instructions in
// every process the shim starts in (docs/performance.md, "Start-up"). errno is set as by the
// libc functions these stand for. For x86-64 and aarch64, whose kernel struct stat is glibc's.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace shim::sys {

inline int open(const char* path, int flags, mode_t mode = 0) noexcept {
  return static_cast<int>(::syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}
inline int close(int fd) noexcept { return static_cast<int>(::syscall(SYS_close, fd)); }
inline int fstat(int fd, struct stat* st) noexcept { return static_cast<int>(::syscall(SYS_fstat, fd, st)); }
inline int flock(int fd, int op) noexcept { return static_cast<int>(::syscall(SYS_flock, fd, op)); }
inline int fchmod(int fd, mode_t mode) noexcept { return static_cast<int>(::syscall(SYS_fchmod, fd, mode)); }
inline int ftruncate(int fd, off_t len) noexcept { return static_cast<int>(::syscall(SYS_ftruncate, fd, len)); }
inline void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  return reinterpret_cast<void*>(::syscall(SYS_mmap, addr, len, prot, flags, fd, off));   // -1: MAP_FAILED
}
inline int munmap(void* addr, size_t len) noexcept { return static_cast<int>(::syscall(SYS_munmap, addr, len)); }
inline int madvise(void* addr, size_t len, int advice) noexcept {
  return static_cast<int>(::syscall(SYS_madvise, addr, len, advice));
}
inline pid_t getpid() noexcept { return static_cast<pid_t>(::syscall(SYS_getpid)); }
inline pid_t getppid() noexcept { return static_cast<pid_t>(::syscall(SYS_getppid)); }
inline uid_t geteuid() noexcept { return static_cast<uid_t>(::syscall(SYS_geteuid)); }
inline int getrlimit(int resource, struct rlimit* rl) noexcept {
  return static_cast<int>(::syscall(SYS_prlimit64, 0, resource, nullptr, rl));
}

}  // namespace shim::sys
