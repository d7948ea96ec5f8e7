// What a socket call's own arguments say, without asking the kernel: the type without its flags,
// the protocol when the arguments fix it, the port of an address. Shared by the switch's parts.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace shim {

inline constexpr int kSockTypeMask = ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

// The protocol the kernel will report with SO_PROTOCOL when it is fixed by the arguments
// (inet stream/dgram with 0 mean TCP/UDP, unix has 0, a non-zero protocol is itself); -1 when
// only the kernel can tell.
inline int fixed_protocol(int domain, int type, int protocol) noexcept {
  if (protocol != 0) return protocol;
  if (domain == AF_UNIX) return 0;
  if (domain == AF_INET || domain == AF_INET6) {
    if (type == SOCK_STREAM) return IPPROTO_TCP;
    if (type == SOCK_DGRAM) return IPPROTO_UDP;
  }
  return -1;
}

// The port of an inet address, 0 for anything else (or a length too short to hold one).
inline std::uint16_t port_of(const sockaddr* a, socklen_t n) noexcept {
  if (!a) return 0;
  if (a->sa_family == AF_INET && n >= static_cast<socklen_t>(sizeof(sockaddr_in)))
    return ntohs(reinterpret_cast<const sockaddr_in*>(a)->sin_port);
  if (a->sa_family == AF_INET6 && n >= static_cast<socklen_t>(sizeof(sockaddr_in6)))
    return ntohs(reinterpret_cast<const sockaddr_in6*>(a)->sin6_port);
  return 0;
}

}  // namespace shim
