// What the C++ runtime linked into the preload object refers to without defining.
//
// libstdc++'s vtables name __cxa_pure_virtual weakly, so linking it in statically does not pull
// its definition from the archive: the reference stayed undefined, and the loader looked it up in
// every object of every process the shim started in, in vain (four relocations, about 2 000
// instructions per exec). Defined here, hidden, the linker resolves it. Called only through a
// pure virtual function that was never overridden, which is a bug: stop at once.
extern "C" [[noreturn]] __attribute__((visibility("hidden"))) void __cxa_pure_virtual() {
  __builtin_trap();
}

// std::terminate's default handler. libstdc++'s own, the verbose handler, prints the uncaught
// exception's demangled type: it brings the whole demangler along, and with it about 450
// relative relocations (its operator and type tables) that the loader applies in every process
// the shim starts in. Defined here, hidden, the archive member that defines it (and the
// demangler it names) stays out of the link. Reached only by an exception the shim failed to
// catch, which is a bug: say so in one line, then stop.
#include <sys/syscall.h>
#include <unistd.h>

namespace __gnu_cxx {
[[noreturn]] __attribute__((visibility("hidden"))) void __verbose_terminate_handler() {
  static const char kMessage[] =
      "sockshim: internal error: an uncaught C++ exception in the preload object (std::terminate)\n";
  // The system call itself: `write` would be the shim's own wrapper.
  [[maybe_unused]] const long n = syscall(SYS_write, STDERR_FILENO, kMessage, sizeof kMessage - 1);
  __builtin_trap();
}
}  // namespace __gnu_cxx
