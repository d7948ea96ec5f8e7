// A cookie names a kind of socket: socktest's 3-tuple family << 48 | type << 16 | protocol.
// The type is stored without SOCK_NONBLOCK/SOCK_CLOEXEC; the protocol is what the kernel reports
// with SO_PROTOCOL (TCP is 6 even when the program passed 0), so equal sockets share one cookie.
#pragma once

#include <cstdint>

namespace shim {

using Cookie = std::uint64_t;

constexpr Cookie make_cookie(int family, int type, int protocol) noexcept {
  return (static_cast<Cookie>(static_cast<std::uint16_t>(family)) << 48) |
         (static_cast<Cookie>(static_cast<std::uint32_t>(type) & 0xffffffffu) << 16) |
         static_cast<Cookie>(static_cast<std::uint16_t>(protocol));
}
constexpr int cookie_family(Cookie c) noexcept { return static_cast<int>((c >> 48) & 0xffff); }
constexpr int cookie_type(Cookie c) noexcept { return static_cast<int>((c >> 16) & 0xffffffff); }
constexpr int cookie_protocol(Cookie c) noexcept { return static_cast<int>(c & 0xffff); }

// Names as the stats report prints them ("inet", "stream", "tcp"); a number in decimal when the
// value has no name. Return static strings; never allocate. nullptr when unnamed.
const char* family_name(int family) noexcept;
const char* type_name(int type) noexcept;
const char* protocol_name(int family, int protocol) noexcept;

}  // namespace shim
