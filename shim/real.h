// The real libc functions behind the wrappers, resolved once as dlsym(RTLD_NEXT) would (the hash
// tables of the objects loaded after the shim, shim/next_symbol.h; dlsym where that is unsure).
// Resolution happens in the constructor; a call that arrives earlier (from another library's
// constructor) resolves everything on the spot, once, before passing through.
#pragma once

#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

namespace shim::real {

struct Table {
// noexcept: libc functions never throw, and a call through a noexcept pointer can be a tail call
// (a noexcept wrapper calling a possibly throwing function needs a frame to call terminate).
#define SHIM_SYMBOL(ret, name, params, args, call) ret(*name) params noexcept;
#define SHIM_SYMBOL_VA(ret, name) ret (*name)(int, int, ...) noexcept;
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA
};

// Filled by resolve(); never written again (so reading it needs no synchronisation after that).
extern Table fns;
// Idempotent and thread-safe; returns false when some symbol is missing in libc.
bool resolve() noexcept;
bool resolved() noexcept;

// Accessors that resolve on first use. One predictable branch on the hot path.
#define SHIM_SYMBOL(ret, name, params, args, call)            \
  inline ret name params {                                    \
    if (__builtin_expect(fns.name == nullptr, 0)) resolve();  \
    return fns.name args;                                     \
  }
#define SHIM_SYMBOL_VA(ret, name)
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA

inline int fcntl(int fd, int cmd, long arg) {
  if (__builtin_expect(fns.fcntl == nullptr, 0)) resolve();
  return fns.fcntl(fd, cmd, arg);
}

}  // namespace shim::real
