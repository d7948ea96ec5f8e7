// The real libc functions behind the wrappers, found as dlsym(RTLD_NEXT) would find them (the hash
// tables of the objects loaded after the shim, shim/next_symbol.h; dlsym where that is unsure).
//
// Each is found on its first call, not at start-up: a process that never calls socket functions
// (most of the processes an exec-heavy job starts) pays nothing for them. Every entry of `fns`
// starts out pointing at a resolver of the same signature (real.cc), so a call through it is
// always valid (before the constructor too, from another library's constructor or a signal
// handler) and the hot path needs no null test: the resolver finds the real function, stores it
// over itself and calls it. The first call of each function costs the lookup (about 170
// instructions, docs/performance.md).
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

// Resolvers at first, the real functions once called; an entry changes at most once, from its
// resolver to the function (a word written whole: a racing reader sees one or the other).
extern Table fns;

// The constructor's part: nothing, unless the hash tables are already known to be unreadable
// (a first call before the constructor found so); then everything is resolved at once with dlsym,
// which must not wait for a first call that may come from a signal handler. False when a symbol
// is missing. (Reading the tables here to find out would cost every process about 1 100
// instructions; in practice every dynamically linked program has the DT_DEBUG entry the walk
// starts from.)
bool setup() noexcept;

// Accessors, for code that reads better with a call than with fns.
#define SHIM_SYMBOL(ret, name, params, args, call) \
  inline ret name params { return fns.name args; }
#define SHIM_SYMBOL_VA(ret, name)
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA

inline int fcntl(int fd, int cmd, long arg) { return fns.fcntl(fd, cmd, arg); }

}  // namespace shim::real
