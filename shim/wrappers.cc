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
#include <sys/sendfile.h>
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

// The hot paths' real call (shim_hot_real::NAME): the real function itself, except for the _chk
// forms, which make their check and call the plain function as libc's own do (its __recv_chk is
// that check and a call to recv): a libc frame fewer, and no stack argument for
// __recvfrom_chk's seventh. A failed check is left to libc's _chk function, which aborts as
// without the shim. The general path keeps calling the _chk functions themselves (actions.cc).
namespace shim_hot_real_all {
#define SHIM_SYMBOL(ret, name, params, args, call) \
  [[gnu::always_inline]] inline ret name params { return shim::real::fns.name args; }
#define SHIM_SYMBOL_VA(ret, name)
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA
}  // namespace shim_hot_real_all
namespace shim_hot_real {
using namespace shim_hot_real_all;   // qualified look-up finds the three below first
[[gnu::always_inline]] inline ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  if (n > buflen) [[unlikely]] return shim::real::fns.__recv_chk(fd, buf, n, buflen, flags);
  return shim::real::fns.recv(fd, buf, n, flags);
}
[[gnu::always_inline]] inline ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags,
                                                     struct sockaddr* addr, socklen_t* len) {
  if (n > buflen) [[unlikely]] return shim::real::fns.__recvfrom_chk(fd, buf, n, buflen, flags, addr, len);
  return shim::real::fns.recvfrom(fd, buf, n, flags, addr, len);
}
[[gnu::always_inline]] inline ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) [[unlikely]] return shim::real::fns.__read_chk(fd, buf, n, buflen);
  return shim::real::fns.read(fd, buf, n);
}
}  // namespace shim_hot_real

// A wrapper's parameters (or arguments) with the fd entry and its state appended.
#define SHIM_WITH_ENTRY(...) (__VA_ARGS__ __VA_OPT__(,) shim::FdEntry* shim_e, std::uint32_t shim_bits)
#define SHIM_WITH_ENTRY_ARGS(...) (__VA_ARGS__ __VA_OPT__(,) shim_e, shim_bits)

// Per symbol, functions that take the wrapper's own arguments, so each hands over to the next
// with a jump: the exported NAME only tells descriptors that are no sockets (Switch::front);
// shim_hot::NAME (not exported, out of line) runs the hot paths on sockets when no rule exists for
// the call's type (Switch::dispatch_unruled), shim_ruled::NAME when one does (Switch::dispatch);
// shim_general::NAME runs the Switch's general path. shim_sock::NAME also takes the fd entry
// the exported function read: a read or write of a socket (Switch::socket_io) needs no second
// look-up; the other symbols never call theirs. All are named (not internal), so profiles name
// them; the few unused ones cost only bytes of text that is never touched.
#define SHIM_SYMBOL(ret, name, params, args, call)                                          \
  namespace shim_general {                                                                  \
  [[gnu::noinline]] ret name params {                                                       \
    auto make = [=]() noexcept { return call; };                                            \
    auto real = [=]() -> ret { return shim::real::fns.name args; };                         \
    return shim::g_switch.general(make, real);                                              \
  }                                                                                         \
  }                                                                                         \
  namespace shim_ruled {                                                                    \
  [[gnu::noinline]] ret name params {                                                       \
    return shim::g_switch.dispatch([=]() noexcept { return call; },                         \
                                   [=]() -> ret { return shim_hot_real::name args; },       \
                                   [=]() -> ret { return shim_general::name args; });       \
  }                                                                                         \
  }                                                                                         \
  namespace shim_hot {                                                                      \
  [[gnu::noinline]] ret name params {                                                       \
    return shim::g_switch.dispatch_unruled([=]() noexcept { return call; },                 \
                                           [=]() -> ret { return shim_hot_real::name args; }, \
                                           [=]() -> ret { return shim_general::name args; }); \
  }                                                                                         \
  }                                                                                         \
  namespace shim_sock {                                                                     \
  [[gnu::noinline]] ret name SHIM_WITH_ENTRY params {                                       \
    return shim::g_switch.socket_io([=]() noexcept { return call; },                        \
                                    [=]() -> ret { return shim_hot_real::name args; },      \
                                    [=]() -> ret { return shim_general::name args; },       \
                                    shim_e, shim_bits);                                     \
  }                                                                                         \
  }                                                                                         \
  SHIM_EXPORT ret name params {                                                             \
    return shim::g_switch.front(                                                            \
        [=]() noexcept { return call; }, [=]() -> ret { return shim_hot_real::name args; },  \
        [=]() -> ret { return shim_hot::name args; },                                       \
        [=](shim::FdEntry* shim_e, std::uint32_t shim_bits) -> ret {                        \
          return shim_sock::name SHIM_WITH_ENTRY_ARGS args;                                 \
        },                                                                                  \
        [=]() -> ret { return shim_ruled::name args; });                                    \
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
