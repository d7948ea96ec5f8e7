// One wrapper per interposed libc function, generated from symbols.def: each builds a Call and
// hands it, with the real function, to the Switch. What lives here is argument plumbing only
// (sendmsg's destination, which fcntl commands duplicate an fd), the vfork trampoline, and
// Switch::close_socket, which is defined here because it hands over to this file's real close
// and general path (the decisions are Switch::close_socket_path's, shim/switch.h).
// glibc renames fcntl to fcntl64 under _FILE_OFFSET_BITS=64; both names are defined by hand below,
// so the plain declarations are needed here.
#undef _FILE_OFFSET_BITS
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdarg>

#include "shim/real.h"
#include "shim/switch.h"

namespace {

using shim::Call;
using shim::Fn;
using shim::Op;

// sendmsg's destination, for matching unconnected datagram sends.
const sockaddr* msg_name(const msghdr* m) noexcept {
  return m ? static_cast<const sockaddr*>(m->msg_name) : nullptr;
}
socklen_t msg_namelen(const msghdr* m) noexcept { return m ? m->msg_namelen : 0; }

bool is_dup(int cmd) noexcept { return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC; }

}  // namespace

#define SHIM_EXPORT extern "C" __attribute__((visibility("default")))

// Per symbol, three functions that take the wrapper's own arguments, so each hands over to the
// next with a jump: the exported NAME only tells descriptors that are no sockets (Switch::front);
// shim_hot::NAME (not exported, out of line) runs the hot paths on sockets (Switch::dispatch);
// shim_general::NAME runs the Switch's general path.
#define SHIM_SYMBOL(ret, name, params, args, call)                                          \
  namespace shim_general {                                                                  \
  [[gnu::noinline]] ret name params {                                                       \
    auto make = [=]() noexcept { return call; };                                            \
    auto real = [=]() -> ret { return shim::real::fns.name args; };                         \
    return shim::g_switch.general(make, real);                                              \
  }                                                                                         \
  }                                                                                         \
  namespace shim_hot {                                                                      \
  [[gnu::noinline]] ret name params {                                                       \
    return shim::g_switch.dispatch([=]() noexcept { return call; },                         \
                                   [=]() -> ret { return shim::real::fns.name args; },      \
                                   [=]() -> ret { return shim_general::name args; });       \
  }                                                                                         \
  }                                                                                         \
  SHIM_EXPORT ret name params {                                                             \
    return shim::g_switch.front([=]() noexcept { return call; },                            \
                                [=]() -> ret { return shim::real::fns.name args; },         \
                                [=]() -> ret { return shim_hot::name args; });              \
  }
#define SHIM_SYMBOL_VA(ret, name)
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA

// The exported close hands a socket's close here with the entry it read (Switch::front).
int shim::Switch::close_socket(int fd, FdEntry* e, std::uint32_t bits) noexcept {
  return g_switch.close_socket_path(*e, bits, [fd]() noexcept { return real::fns.close(fd); },
                                    [fd]() noexcept { return shim_general::close(fd); });
}

// fcntl's third argument is an int, a long or a pointer depending on cmd; on the x86-64 and
// aarch64 ABIs all of them travel in one register, so reading it as a long passes it unchanged
// (glibc's own fcntl does the same). Only the F_DUPFD commands concern the shim.
SHIM_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  if (!is_dup(cmd)) return shim::real::fcntl(fd, cmd, arg);
  auto make = [&]() noexcept { return Call{.op = Op::kDup, .fd = fd}; };
  auto real = [&]() -> int { return shim::real::fcntl(fd, cmd, arg); };
  return shim::g_switch.dispatch(make, real, [&]() -> int { return shim::g_switch.general(make, real); });
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  if (!is_dup(cmd)) return shim::real::fns.fcntl64(fd, cmd, arg);
  auto make = [&]() noexcept { return Call{.op = Op::kDup, .fd = fd}; };
  auto real = [&]() -> int { return shim::real::fns.fcntl64(fd, cmd, arg); };
  return shim::g_switch.dispatch(make, real, [&]() -> int { return shim::g_switch.general(make, real); });
}

// vfork cannot be wrapped by a C function: the child runs on the caller's stack frame until it
// execs, so a wrapper's frame would be gone when the parent resumes. This trampoline sets a hint
// in the calling thread's TLS (which the child shares) and jumps to the real vfork, which returns
// straight to the caller. Switch::in_vfork_child() then asks getpid() only while the hint is set.
// The real vfork is found on the first call, as every real function is (shim/real.h): still in
// the parent, before any fork, so calling the finder there is an ordinary call (the stack
// realigned to 16 bytes around it). If it finds none, fork serves: POSIX allows vfork to be a fork.
// x86-64 only (shim/meson.build refuses other CPUs at configure time): another architecture needs
// its own few lines of assembly here, e.g. aarch64's mrs tpidr_el0 and a tail call through x16.
#if !defined(__x86_64__)
#error "shim/wrappers.cc: the vfork trampoline is x86-64 assembly; the preload object supports x86-64 Linux only"
#endif
asm(R"(
    .text
    .globl vfork
    .type vfork, @function
vfork:
    movq sockshim_vfork_hint@gottpoff(%rip), %rax
    movl $1, %fs:(%rax)
    movq sockshim_real_vfork(%rip), %rax
    testq %rax, %rax
    je 1f
    jmp *%rax
1:
    subq $8, %rsp
    call sockshim_find_vfork
    addq $8, %rsp
    testq %rax, %rax
    je 2f
    jmp *%rax
2:
    jmp fork@PLT
    .size vfork, .-vfork
)");
