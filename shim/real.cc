#include "shim/real.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>

#include <atomic>
#include <cstdarg>
#include <type_traits>

#include "shim/next_symbol.h"
#include "shim/once.h"

extern "C" void* sockshim_real_vfork;
extern "C" void* sockshim_find_vfork() noexcept;

namespace shim::real {
namespace {

// The preload object's own dynamic section (the linker defines the symbol in every object).
extern "C" ElfW(Dyn) _DYNAMIC[] __attribute__((visibility("hidden")));

// The objects after ours, read once. 0: not yet, 1: being read, 2: ready, 3: unreadable.
elf::NextObjects g_objects;
std::atomic<int> g_objects_state{0};

// Another thread is reading them, or this is a signal handler that interrupted the reading:
// read a copy of our own rather than wait (waiting could be forever).
[[gnu::noinline]] void* find_in_own_copy(const char* name, std::uint32_t hash) noexcept {
  elf::NextObjects local;
  return local.init(_DYNAMIC) ? local.find(name, hash) : nullptr;
}

// The next definition of `name` after this object: from the hash tables, or, where that walk is
// not certain (an IFUNC, an object without a GNU hash table), from dlsym.
void* next(const char* name, std::uint32_t hash) noexcept {
  int state = g_objects_state.load(std::memory_order_acquire);
  if (state == 0 && g_objects_state.compare_exchange_strong(state, 1, std::memory_order_acq_rel)) {
    state = g_objects.init(_DYNAMIC) ? 2 : 3;
    g_objects_state.store(state, std::memory_order_release);
  }
  void* p = state == 2 ? g_objects.find(name, hash) : state == 1 ? find_in_own_copy(name, hash) : nullptr;
  return p ? p : dlsym(RTLD_NEXT, name);
}

// What a call of a function libc does not have answers (the entry then stays its resolver).
template <class R>
R missing() noexcept {
  errno = ENOSYS;
  if constexpr (std::is_pointer_v<R>) return nullptr;
  else return static_cast<R>(-1);
}

// One resolver per function, with its signature.
namespace first_call {
#define SHIM_SYMBOL(ret, name, params, args, call)                                              \
  ret name params noexcept {                                                                    \
    constexpr std::uint32_t hash = elf::gnu_hash(#name);                                        \
    auto* f = reinterpret_cast<decltype(Table::name)>(next(#name, hash));                       \
    if (!f) return missing<ret>();                                                              \
    __atomic_store_n(&fns.name, f, __ATOMIC_RELAXED);                                           \
    return f args;                                                                              \
  }
// fcntl's third argument: the wrappers always pass one (a long; fcntl reads what cmd needs).
#define SHIM_SYMBOL_VA(ret, name)                                                               \
  ret name(int fd, int cmd, ...) noexcept {                                                     \
    va_list ap;                                                                                 \
    va_start(ap, cmd);                                                                          \
    const long arg = va_arg(ap, long);                                                          \
    va_end(ap);                                                                                 \
    constexpr std::uint32_t hash = elf::gnu_hash(#name);                                        \
    auto* f = reinterpret_cast<decltype(Table::name)>(next(#name, hash));                       \
    if (!f) return missing<ret>();                                                              \
    __atomic_store_n(&fns.name, f, __ATOMIC_RELAXED);                                           \
    return f(fd, cmd, arg);                                                                     \
  }
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA
}  // namespace first_call

}  // namespace

// constinit: filled by the loader's relocations, before any code of the process runs.
constinit Table fns = {
#define SHIM_SYMBOL(ret, name, params, args, call) .name = &first_call::name,
#define SHIM_SYMBOL_VA(ret, name) .name = &first_call::name,
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA
};

SHIM_ONCE bool setup() noexcept {
  if (g_objects_state.load(std::memory_order_acquire) != 3) return true;   // resolved on first calls
  bool all = sockshim_find_vfork() != nullptr;
#define SHIM_LOAD(name)                                                                         \
  if (auto* f = reinterpret_cast<decltype(Table::name)>(next(#name, elf::gnu_hash(#name))))     \
    __atomic_store_n(&fns.name, f, __ATOMIC_RELAXED);                                           \
  else                                                                                          \
    all = false;
#define SHIM_SYMBOL(ret, name, params, args, call) SHIM_LOAD(name)
#define SHIM_SYMBOL_VA(ret, name) SHIM_LOAD(name)
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA
#undef SHIM_LOAD
  return all;
}

}  // namespace shim::real

// The vfork trampoline's finder (shim/wrappers.cc), called on its first use: never from a vfork
// child (it runs before the real vfork), so it may take the same walk as any first call.
extern "C" __attribute__((visibility("hidden"))) void* sockshim_find_vfork() noexcept {
  void* f = shim::real::next("vfork", shim::elf::gnu_hash("vfork"));
  __atomic_store_n(&sockshim_real_vfork, f, __ATOMIC_RELAXED);
  return f;
}
