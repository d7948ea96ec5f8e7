// Socket addresses as people read them, for the stats (leaks, the decision log).
#pragma once

#include <sys/socket.h>

#include <cstddef>

#include "filters/table.h"

namespace shim {

// "127.0.0.1:80", "[::1]:80", "/run/x.sock", "@abstract"; "" when unknown. No allocation.
void format_sockaddr(const sockaddr* sa, socklen_t n, char* out, std::size_t len) noexcept;

// The IPv4/IPv6 address of a sockaddr, for rule matching; `out` unchanged for other families or
// a length too short for the family. No allocation.
void to_address(const sockaddr* sa, socklen_t n, filters::Address& out) noexcept;

}  // namespace shim
