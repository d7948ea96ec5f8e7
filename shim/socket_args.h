// What a socket call's own arguments say, without asking the kernel: the type without its flags,
// the protocol when the arguments fix it, the port of an address. Shared by the switch's parts.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include "shim/cookie.h"

namespace shim {

inline constexpr int kSockTypeMask = ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

// The protocol the kernel will report with SO_PROTOCOL when it is fixed by the arguments
// (inet stream/dgram with 0 mean TCP/UDP, unix has 0, a non-zero protocol is itself); -1 when
// only the kernel can tell.
constexpr int fixed_protocol(int domain, int type, int protocol) noexcept {
  if (protocol != 0) return protocol;
  if (domain == AF_UNIX) return 0;
  if (domain == AF_INET || domain == AF_INET6) {
    if (type == SOCK_STREAM) return IPPROTO_TCP;
    if (type == SOCK_DGRAM) return IPPROTO_UDP;
  }
  return -1;
}

// socket(domain, type, 0) for the small domains and types (every one programs use: unix,
// inet, inet6; stream, dgram, seqpacket), as an index into kDefaultCookies: the cookie
// fixed_protocol() and make_cookie() give, 0 when only the kernel can tell the protocol. One load
// instead of their branches on socket()'s hot path.
inline constexpr unsigned kKindDomains = 16, kKindTypes = 8;
constexpr unsigned kind_index(int domain, int type) noexcept {
  return static_cast<unsigned>(domain) * kKindTypes + static_cast<unsigned>(type);
}
struct DefaultCookies {
  Cookie v[kKindDomains * kKindTypes] = {};
  constexpr DefaultCookies() {
    for (unsigned d = 0; d < kKindDomains; ++d)
      for (unsigned t = 0; t < kKindTypes; ++t) {
        const int protocol = fixed_protocol(static_cast<int>(d), static_cast<int>(t), 0);
        v[d * kKindTypes + t] = protocol < 0 ? 0 : make_cookie(static_cast<int>(d), static_cast<int>(t), protocol);
      }
  }
};
inline constexpr DefaultCookies kDefaultCookies{};
static_assert(kDefaultCookies.v[kind_index(AF_INET, SOCK_STREAM)] == make_cookie(AF_INET, SOCK_STREAM, IPPROTO_TCP));
static_assert(kDefaultCookies.v[kind_index(AF_INET6, SOCK_DGRAM)] == make_cookie(AF_INET6, SOCK_DGRAM, IPPROTO_UDP));
static_assert(kDefaultCookies.v[kind_index(AF_INET, SOCK_RAW)] == 0);

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
