// SOCKSHIM_DEBUG=1: one line per fault fired, on stderr. Formatted into a stack buffer and written
// with the real write(2), so it is safe inside wrapped calls; off by default (STYLE.md section 7).
#pragma once

namespace shim::debug {

void fault(const char* rule, const char* call, int fd, int err) noexcept;
// A plain line "sockshim: TEXT\n" (init-time messages).
void line(const char* text) noexcept;

}  // namespace shim::debug
