// The kinds of call a rule can be "on". One per group of libc functions: "send" covers send,
// sendto, sendmsg, sendmmsg and write/writev on sockets; "recv" the receive family and
// read/readv on sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace filters {

enum class CallType : std::uint8_t {
  kSocket,
  kConnect,
  kBind,
  kListen,
  kAccept,
  kClose,
  kShutdown,
  kGetsockopt,
  kSetsockopt,
  kSend,
  kRecv,
  kGetaddrinfo,
  kCount
};
inline constexpr std::size_t kCallTypeCount = static_cast<std::size_t>(CallType::kCount);

// "socket", "connect", ... as written in rule files. Static strings.
const char* call_type_name(CallType t) noexcept;
std::optional<CallType> parse_call_type(std::string_view name) noexcept;

}  // namespace filters
