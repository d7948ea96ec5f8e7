// A compiled rule table: one position-independent block of bytes with the rules (trivially
// copyable) and the indices first_match walks. The loader builds it once; `sockshim run` puts it
// into the stats segment, and every process of the run matches with the segment's copy in place
// (Table::view) instead of parsing the rule file again: a process then pays for its table what
// checking a few offsets costs, not the JSON parse (docs/performance.md, "Start-up").
//
// A view copies only the small header; the rest is read in place and every offset and list read
// from it is checked where it is used, so bytes changed under a view (the segment is writable by
// every process of the run) can change which rules match but never make it read outside the image.
//
// Only the build that wrote an image reads it: the header records the sizes of the types it holds,
// and an image from another build is refused (the shim then parses the rule text instead).
#pragma once

#include <cstddef>
#include <cstdint>

#include "filters/call_type.h"

namespace filters::image {

inline constexpr char kMagic[8] = {'s', 'k', 't', 'a', 'b', 'l', 'e', '\0'};
// 2: Action gained inbound_loss's probability, threshold and compiled filter. 3: rate.
inline constexpr std::uint32_t kVersion = 3;
// Rule lists are split by socket family below this number (AF_* values in use are all smaller);
// a family at or above it uses the type's whole list.
inline constexpr int kFamilySlots = 48;
inline constexpr std::size_t kPortWords = 65536 / 64;

struct List {              // pool[first, first + count): rule indices in file order
  std::uint32_t first = 0, count = 0;
};

// The index of one call type. Every list holds rule indices in file order.
struct TypeIndex {
  std::uint32_t needs = 0;          // Need bits of its rules
  std::uint32_t has_portless = 0;   // some rule has no `port` key
  std::uint32_t ports = 0;          // offset of a kPortWords-word bitmap of the ports rules name; 0: none
  std::uint32_t reserved = 0;
  List all, portless;               // every rule on this type; those without a `port` key
  // The same two split by the family they accept (a rule without a family key is in every list),
  // so rules for other families are never looked at.
  List by_family[kFamilySlots], portless_by_family[kFamilySlots];
};

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t size;               // of the whole image, this header included
  // The layout of the build that wrote it: sizeof Rule and of its parts.
  std::uint32_t rule_size, match_size, when_size, action_size;
  std::uint32_t rule_count;
  std::uint32_t has_argv0;          // some rule has an argv0 key (select_program has work to do)
  std::uint64_t seed;
  std::uint32_t rules;              // offset of Rule[rule_count]
  std::uint32_t pool;               // offset of std::uint16_t[pool_count]
  std::uint32_t pool_count;
  std::uint32_t types;              // offset of TypeIndex[kCallTypeCount]
};

}  // namespace filters::image
