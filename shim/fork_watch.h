// Telling that this process is a new child nobody told us about. pthread_atfork handlers run
// only for fork(); a child of _Fork(), of clone() without CLONE_VM or of a raw clone system call
// starts without them, with the parent's fd table and process record. The kernel zeroes a page
// marked MADV_WIPEONFORK in every such child (Linux 4.14), whatever made it, so a word on that
// page that the shim keeps at 1 reads 0 exactly in a child not yet adopted, or adopted by the
// fork handler, which leaves it at 0 (a page fault saved in every fork that goes straight to
// exec) for adopt_fork() to tell by the pid and arm. Threads and vfork children share the page
// and see 1.
#pragma once

#include <atomic>
#include <cstdint>

namespace shim {

// Points to a word that always reads 1 until setup maps the real page (and when the kernel
// lacks MADV_WIPEONFORK: such children then go unnoticed, as before 4.14).
extern constinit std::atomic<std::uint32_t>* g_fork_canary;

[[gnu::always_inline]] inline bool forked_unseen() noexcept {
  return g_fork_canary->load(std::memory_order_relaxed) == 0;
}

// In such a child: what the fork handler does (a process record of its own, every socket marked
// inherited), once; then the word reads 1 again. preload.cc.
void adopt_fork() noexcept;

}  // namespace shim
