#include "shim/real.h"

#include "shim/next_symbol.h"
#include "shim/reentry.h"

#include <dlfcn.h>
#include <link.h>

#include <atomic>

namespace shim::real {

Table fns;

namespace {
// 0: not yet, 1: someone is resolving, 2: done. A second thread that arrives while the first
// resolves waits for it; dlsym itself never calls back into socket functions.
std::atomic<int> g_state{0};
bool g_complete = false;

// The preload object's own dynamic section (the linker defines the symbol in every object).
extern "C" ElfW(Dyn) _DYNAMIC[] __attribute__((visibility("hidden")));

// The next definition of `name` after this object: read from the hash tables, or, where that
// walk is not certain, from dlsym (shim/next_symbol.h).
void* next(const elf::NextObjects* objects, const char* name, std::uint32_t hash) noexcept {
  void* p = objects ? objects->find(name, hash) : nullptr;
  return p ? p : dlsym(RTLD_NEXT, name);
}
}  // namespace

bool resolve() noexcept {
  int expected = 0;
  if (g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    bool all = true;
    elf::NextObjects objects;
    const elf::NextObjects* fast = objects.init(_DYNAMIC) ? &objects : nullptr;
#define SHIM_LOAD(name)                                                        \
  {                                                                            \
    constexpr std::uint32_t hash = elf::gnu_hash(#name);                       \
    fns.name = reinterpret_cast<decltype(fns.name)>(next(fast, #name, hash));  \
    all = all && fns.name != nullptr;                                          \
  }
#define SHIM_SYMBOL(ret, name, params, args, call) SHIM_LOAD(name)
#define SHIM_SYMBOL_VA(ret, name) SHIM_LOAD(name)
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA
#undef SHIM_LOAD
    sockshim_real_vfork = next(fast, "vfork", elf::gnu_hash("vfork"));
    g_complete = all;
    g_state.store(2, std::memory_order_release);
    return all;
  }
  while (g_state.load(std::memory_order_acquire) != 2) {
  }
  return g_complete;
}

bool resolved() noexcept { return g_state.load(std::memory_order_acquire) == 2; }

}  // namespace shim::real
