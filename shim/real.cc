#include "shim/real.h"

#include "shim/reentry.h"

#include <dlfcn.h>

#include <atomic>

namespace shim::real {

Table fns;

namespace {
// 0: not yet, 1: someone is resolving, 2: done. A second thread that arrives while the first
// resolves waits for it; dlsym itself never calls back into socket functions.
std::atomic<int> g_state{0};
bool g_complete = false;

template <class F>
void load(F& slot, const char* name) noexcept {
  slot = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}
}  // namespace

bool resolve() noexcept {
  int expected = 0;
  if (g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    bool all = true;
#define SHIM_SYMBOL(ret, name, params, args, call) \
  load(fns.name, #name);                     \
  all = all && fns.name != nullptr;
#define SHIM_SYMBOL_VA(ret, name) \
  load(fns.name, #name);          \
  all = all && fns.name != nullptr;
#include "shim/symbols.def"
#undef SHIM_SYMBOL
#undef SHIM_SYMBOL_VA
    sockshim_real_vfork = dlsym(RTLD_NEXT, "vfork");
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
