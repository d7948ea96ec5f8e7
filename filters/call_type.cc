#include "filters/call_type.h"

#include <array>

namespace filters {
namespace {

// Indexed by CallType; the spelling is the rule-file keyword, so it must never change once
// released (rule files in the wild name it).
constexpr std::array<const char*, kCallTypeCount> kNames = {
    "socket", "connect", "bind",       "listen",     "accept", "close",
    "shutdown", "getsockopt", "setsockopt", "send", "recv",   "getaddrinfo",
};

}  // namespace

const char* call_type_name(CallType t) noexcept {
  const auto i = static_cast<std::size_t>(t);
  return i < kNames.size() ? kNames[i] : "?";
}

std::optional<CallType> parse_call_type(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (name == kNames[i]) return static_cast<CallType>(i);
  }
  return std::nullopt;
}

}  // namespace filters
