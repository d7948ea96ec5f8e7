// Capture (`sockshim run --pcap FILE`), the preload object's part: the Switch calls these hooks
// where a socket connects, is accepted, moves bytes, shuts down, closes or is reset by a rule,
// and they append what happened to the run's capture ring (shim/capture_ring.h), which
// `sockshim run` turns into packets (shim/cmd/capture_writer.h). docs/capture.md.
//
// Without --pcap, g_on is false and nothing here runs, and the hot paths test nothing for it:
// with --pcap the constructor makes every call take the general path (Switch::set_general_only,
// folded into tests the hot paths make anyway), whose after() calls after_call().
// The hooks never allocate, lock or log; they keep errno; a full ring loses the record (counted).
#pragma once

#include "shim/call.h"

namespace shim::capture {

// True once init() attached the ring in this process (set before the Switch is ready). Hidden:
// the general path's test is one compare with the flag in memory, not a load of its address.
extern constinit bool g_on __attribute__((visibility("hidden")));
[[gnu::always_inline]] inline bool on() noexcept { return __builtin_expect(g_on, 0); }

// The constructor's part: attaches the ring at `path` (SOCKSHIM_CAPTURE) and maps the per-fd
// table. false, with capture off, when it cannot (the reason in *why).
bool init(const char* path, const char** why) noexcept;

// After the real call c returned r (errno err): records what it moved or what it did.
// bytes_recorded: the call's bytes are already in the ring (sent() recorded a corrupted copy).
void after_call(const Call& c, long r, int err, bool bytes_recorded) noexcept;

// A send that put `bytes` (not the program's buffer: a rule's corrupted copy) on the wire; r is
// its result. Records the bytes that really went out.
void sent(const Call& c, const void* bytes, long r) noexcept;

// A sendfile that sent r bytes of its file from `start` (a rule's duplicate, with an offset of
// its own): records them, read back from the file.
void sent_file(const Call& c, off64_t start, long r) noexcept;

// fd is about to stop naming its socket (close, close_range, dup2/dup3 onto the number); last:
// it was the socket's last number in the process that made it (SocketBook's count): unless the
// process forked since, the kernel sends a FIN now; else the writer asks the kernel when.
// Reads only capture's own record of fd: also right after a dup2 replaced it.
void closing(int fd, bool last) noexcept;

// A `reset` rule is about to abort fd's connection: the kernel sends a RST to the peer.
void reset(int fd) noexcept;

}  // namespace shim::capture
