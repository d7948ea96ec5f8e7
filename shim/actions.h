// The mechanics of the rule actions that change a real call rather than replace it: shortened,
// duplicated and corrupted transfers, truncated and corrupted receives, sleeps, the abortive
// reset. The Switch decides; these functions carry it out with the real libc functions.
// Allocation-free; the only memory they take beyond the stack is an mmap for corrupting a large
// send, and only while that send runs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "filters/table.h"
#include "shim/call.h"

namespace shim::actions {

// Bytes the call asks to move (send: offers; recv: has room for). Message vectors count 0.
std::size_t requested(const Call& c) noexcept;

// The call itself, through the real function, moving at most `limit` bytes. Returns what the
// real function returned, with errno as it left it. Calls without a byte count (mmsg) ignore
// the limit.
long transfer(const Call& c, std::size_t limit) noexcept;

// Whose seeded draws place the flipped bits: the rule's hit that fired (docs/filters.md: bit k
// of a corruption is random64(seed, rule, hit, kDrawCorrupt + k) % (8 * length)).
struct Draw {
  std::uint64_t seed = 0;
  std::uint32_t rule = 0;
  std::uint64_t hit = 0;
};

// A send of the program's bytes with `bits` bits flipped in a copy (the program's buffer is never
// written). At most 64 KiB go out in one call, like a short send: nothing is lost.
long send_corrupted(const Call& c, std::uint64_t bits, const Draw& draw) noexcept;

// Flips `bits` bits in the first n bytes the call received into the program's buffers.
void corrupt_received(const Call& c, std::size_t n, std::uint64_t bits, const Draw& draw) noexcept;

// The bit to flip for draw k, among n bytes (n > 0).
std::uint64_t bit_position(const Draw& draw, std::uint64_t k, std::size_t n) noexcept;

// sendfile (Fn::kSendfile) reads its bytes from a file, not from the program's memory. Where the
// `moved` bytes it just sent began: the offset it was given (which the kernel moved on), or its
// file's position (likewise). -1 when the file has no position (a pipe). errno kept.
off64_t sendfile_start(const Call& c, long moved) noexcept;

// The same n bytes from start sent again (a duplicate); the call's offset and the file's
// position stay where the first send left them.
long sendfile_again(const Call& c, off64_t start, std::size_t n) noexcept;

// Moves sendfile's offset (or its file's position) on by n, as sending n bytes would have (a
// dropped send). errno kept.
void sendfile_advance(const Call& c, long n) noexcept;

// Sleeps ms milliseconds on the monotonic clock. false when a signal handler ran meanwhile
// (what a blocking call would report as EINTR); the sleep is then cut short.
bool sleep_ms(std::uint64_t ms) noexcept;

// Sleeps until the monotonic clock reads ns. false when a signal handler ran meanwhile (the
// sleep is then cut short).
bool sleep_until_ns(std::int64_t ns) noexcept;

// Aborts a TCP connection so the peer sees a RST: connect(AF_UNSPEC) makes the kernel drop the
// connection with a reset (tcp_disconnect) and leaves the fd open and unconnected, so the
// program's descriptor stays valid. Harmless on other sockets.
void reset(int fd) noexcept;

}  // namespace shim::actions
