// getsockopt/setsockopt level and option names for rule files and describe().
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "filters/names.h"

namespace filters {

// SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP and their SOL_* aliases.
std::span<const NamedValue> sockopt_levels() noexcept;
// The option names of one level; empty for a level without a table.
std::span<const NamedValue> sockopt_options(int level) noexcept;

struct SockoptName {
  int level;
  int option;
};
// An option name and the level it belongs to ("TCP_NODELAY" -> IPPROTO_TCP, 1).
std::optional<SockoptName> find_sockopt(std::string_view name) noexcept;
// The known option name closest to a misspelt one, across all levels; nullptr when none is close.
const char* suggest_sockopt(std::string_view wrong);

}  // namespace filters
