#include "shim/fdtable.h"
#include "shim/once.h"
#include "shim/sys.h"

#include <sys/mman.h>
#include <sys/resource.h>

namespace shim {

SHIM_ONCE bool FdTable::init() noexcept {
  rlimit rl{};
  rlim_t max = kMaxFds;
  // The hard limit bounds every fd the process can ever get (only root can raise it later, and
  // such fds are simply untracked).
  if (sys::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < max)
    max = rl.rlim_max;
  // mmap, not malloc: this may run before the program's allocator is usable. Address space only:
  // 1M fds reserve 256 MiB of it and commit nothing. A process under a tight RLIMIT_AS gets a
  // smaller table (the fds beyond it go untracked) rather than none. Any hard limit works: a
  // process under `ulimit -n 100` gets a table of 100 entries, which is every fd it can have.
  if (max == 0) return true;   // no fd can ever be opened: nothing to track
  for (; max >= 1; max /= 2) {
    void* p = sys::mmap(nullptr, sizeof(FdEntry) * max, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) continue;
    base_ = static_cast<FdEntry*>(p);   // zero pages: every entry is "unknown"
    limit_ = hot_limit_ = static_cast<int>(max);
    return true;
  }
  return false;
}

void FdTable::raise_high(int fd) noexcept {
  int cur = high_.load(std::memory_order_relaxed);
  while (fd >= cur && !high_.compare_exchange_weak(cur, fd + 1, std::memory_order_release,
                                                  std::memory_order_relaxed)) {
  }
}

void FdTable::clear(int fd) noexcept {
  // Only the kind: every other field is written afresh when the number is next classified,
  // opened or dup'd onto.
  if (FdEntry* e = find(fd)) e->state.store(0, std::memory_order_relaxed);
}

}  // namespace shim
