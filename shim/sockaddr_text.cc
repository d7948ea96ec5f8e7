#include "shim/sockaddr_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstdio>
#include <cstring>

namespace shim {

void format_sockaddr(const sockaddr* sa, socklen_t n, char* out, std::size_t len) noexcept {
  if (len == 0) return;
  out[0] = 0;
  if (!sa || n < static_cast<socklen_t>(sizeof(sa_family_t))) return;
  char ip[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET && n >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    std::snprintf(out, len, "%s:%u", ip, ntohs(a->sin_port));
  } else if (sa->sa_family == AF_INET6 && n >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    std::snprintf(out, len, "[%s]:%u", ip, ntohs(a->sin6_port));
  } else if (sa->sa_family == AF_UNIX) {
    const auto* a = reinterpret_cast<const sockaddr_un*>(sa);
    const std::size_t off = offsetof(sockaddr_un, sun_path);
    const std::size_t plen = static_cast<std::size_t>(n) > off ? static_cast<std::size_t>(n) - off : 0;
    if (plen == 0) return;
    if (a->sun_path[0] == 0)
      std::snprintf(out, len, "@%.*s", static_cast<int>(plen - 1), a->sun_path + 1);
    else
      std::snprintf(out, len, "%.*s", static_cast<int>(strnlen(a->sun_path, plen)), a->sun_path);
  }
}

void to_address(const sockaddr* sa, socklen_t n, filters::Address& out) noexcept {
  if (!sa) return;
  if (sa->sa_family == AF_INET && n >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    out.family = AF_INET;
    std::memcpy(out.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6 && n >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    out.family = AF_INET6;
    std::memcpy(out.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  }
}

}  // namespace shim
