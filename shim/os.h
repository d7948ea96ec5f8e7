// The system calls the switch makes on its own account (not the program's calls it wraps): what
// it asks the kernel about a descriptor it did not see created, the addresses rules match on,
// the ids an event records, the pacing it sets. One seam, resolved at link time: the preload
// object links os.cc, the switch's unit tests (tests/shim/switch_test.cc) a scripted kernel.
// Nothing here is on a hot path: each runs once per socket or only when a rule needs it.
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

namespace shim::os {

int fstat(int fd, struct stat* st) noexcept;
int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept;
int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept;
int getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept;
int getpeername(int fd, sockaddr* addr, socklen_t* len) noexcept;
pid_t getpid() noexcept;
pid_t gettid() noexcept;

}  // namespace shim::os
