#include "shim/fdtable.h"

#include <sys/mman.h>
#include <sys/resource.h>

namespace shim {

void FdTable::init() noexcept {
  rlimit rl{};
  rlim_t max = kMaxFds;
  // The hard limit bounds every fd the process can ever get (only root can raise it later, and
  // such fds are simply untracked).
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < max)
    max = rl.rlim_max;
  limit_ = static_cast<int>(max);
}

FdEntry* FdTable::get(int fd) noexcept {
  if (static_cast<unsigned>(fd) >= static_cast<unsigned>(limit_)) return nullptr;
  const int c = fd >> kChunkBits;
  if (FdEntry* e = chunk_at(c, fd & (kChunk - 1))) return e;
  // mmap, not malloc: this runs inside wrapped calls, maybe inside malloc or a signal handler.
  void* p = mmap(nullptr, sizeof(FdEntry) * kChunk, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* fresh = static_cast<FdEntry*>(p);   // zero pages: every entry is "unknown"
  FdEntry* expected = nullptr;
  if (!dir_[c].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
    munmap(p, sizeof(FdEntry) * kChunk);    // another thread won; use its chunk
    return expected + (fd & (kChunk - 1));
  }
  return fresh + (fd & (kChunk - 1));
}

void FdTable::clear(int fd) noexcept {
  // Only the kind: every other field is written afresh when the number is next classified,
  // opened or dup'd onto.
  if (FdEntry* e = find(fd)) e->state.store(0, std::memory_order_relaxed);
}

}  // namespace shim
