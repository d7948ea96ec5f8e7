// Socket addresses as people read them, for the stats (leaks, the decision log).
#pragma once

#include <sys/socket.h>

#include <cstddef>

namespace shim {

// "127.0.0.1:80", "[::1]:80", "/run/x.sock", "@abstract"; "" when unknown. No allocation.
void format_sockaddr(const sockaddr* sa, socklen_t n, char* out, std::size_t len) noexcept;

}  // namespace shim
