// Checking a compiled image (filters/table_image.h) before a Table reads it in place. The
// preload object's way to a table: no allocation, no exception, no libstdc++.
#include <cstring>

#include "filters/table.h"

namespace filters {
namespace {

bool fail(const char** why, const char* what) noexcept {
  if (why) *why = what;
  return false;
}

}  // namespace

std::optional<Table> Table::view(const void* bytes, std::size_t size, const char** why) noexcept {
  const auto* base = static_cast<const std::byte*>(bytes);
  if (!base || size < sizeof(image::Header)) {
    fail(why, "shorter than a table header");
    return std::nullopt;
  }
  if (reinterpret_cast<std::uintptr_t>(base) % alignof(image::Header) != 0) {
    fail(why, "not aligned");
    return std::nullopt;
  }
  image::Header h;
  std::memcpy(&h, base, sizeof h);
  auto check = [&]() -> bool {
    if (std::memcmp(h.magic, image::kMagic, sizeof h.magic) != 0) return fail(why, "not a compiled rule table");
    if (h.version != image::kVersion || h.rule_size != sizeof(Rule) || h.match_size != sizeof(Match) ||
        h.when_size != sizeof(When) || h.action_size != sizeof(Action))
      return fail(why, "compiled by another build of sockshim");
    if (h.size > size || h.size < sizeof h) return fail(why, "size out of range");
    if (h.rule_count > kMaxRules)
      return fail(why, "too many rules");
    if (h.rules % alignof(Rule) != 0 || h.rules < sizeof h || h.rules > h.size ||
        std::size_t{h.rule_count} * sizeof(Rule) > h.size - h.rules)
      return fail(why, "rules out of range");
    if (h.pool % alignof(std::uint16_t) != 0 || h.pool < sizeof h || h.pool > h.size ||
        std::size_t{h.pool_count} * sizeof(std::uint16_t) > h.size - h.pool)
      return fail(why, "index out of range");
    if (h.types % alignof(image::TypeIndex) != 0 || h.types < sizeof h || h.types > h.size ||
        kCallTypeCount * sizeof(image::TypeIndex) > h.size - h.types)
      return fail(why, "index out of range");
    return true;
  };
  if (!check()) return std::nullopt;
  Table t{ViewTag{}};
  t.base_ = base;
  t.header_ = h;
  t.types_ = reinterpret_cast<const image::TypeIndex*>(base + h.types);
  t.rules_ = reinterpret_cast<const Rule*>(base + h.rules);
  t.pool_ = reinterpret_cast<const std::uint16_t*>(base + h.pool);
  t.summarize();
  return t;
}

}  // namespace filters
