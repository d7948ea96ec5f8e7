// errno and getaddrinfo (EAI_*) names as rule files write them. Numbers differ between platforms
// (ECONNREFUSED is 111 on Linux, 61 on the BSDs; EDEADLOCK moves between Linux architectures),
// so rule files only ever use names; the numbers come from this platform's headers at build time.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "filters/names.h"

namespace filters {

// Every errno name <errno.h> defines, aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP) included.
std::optional<int> errno_from_name(std::string_view name) noexcept;
// The canonical name (EAGAIN, not EWOULDBLOCK); nullptr when this platform has no such errno.
const char* errno_name(int err) noexcept;

// The EAI_* codes getaddrinfo(3) returns (negative on glibc).
std::optional<int> eai_from_name(std::string_view name) noexcept;
const char* eai_name(int eai) noexcept;

// The whole tables, canonical names first: for suggestions and listings.
std::span<const NamedValue> errno_table() noexcept;
std::span<const NamedValue> eai_table() noexcept;

// The known name closest to a misspelt one (errno names, and EAI_* names too when `with_eai`);
// nullptr when none is within kMaxSuggestDistance edits.
const char* suggest_errno_name(std::string_view wrong, bool with_eai);

}  // namespace filters
