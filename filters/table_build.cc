// Compiling rules into a table image (filters/table_image.h). Loading only: allocates; the
// preload object views images (table_view.cc) and never builds one.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "filters/table.h"

namespace filters {
namespace {

constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

// Every list of one call type before they go into the pool. The per-family lists are made only
// for the families some rule names: every other slot holds the rules without a family key, one
// list for all of them (pushing each rule into 48 slots was a fifth of loading 1 000 rules).
struct TypeLists {
  std::vector<std::uint16_t> all, portless;
  std::vector<std::uint16_t> familyless, familyless_portless;   // rules without a family key
  bool named[image::kFamilySlots] = {};                           // some rule names this family
  std::uint32_t needs = 0;
  bool has_portless = false;
  bool has_ports = false;
  std::uint64_t ports[image::kPortWords] = {};
};

// Lists with the same contents share one place in the pool: every family slot that no rule names
// holds the same list (the rules without a family key), so a table costs about one list per call
// type instead of 98.
class Pool {
 public:
  image::List add(const std::vector<std::uint16_t>& list) {
    if (list.empty()) return {};
    auto [it, inserted] = seen_.try_emplace(list, static_cast<std::uint32_t>(entries_.size()));
    if (inserted) entries_.insert(entries_.end(), list.begin(), list.end());
    return {it->second, static_cast<std::uint32_t>(list.size())};
  }
  const std::vector<std::uint16_t>& entries() const noexcept { return entries_; }

 private:
  std::map<std::vector<std::uint16_t>, std::uint32_t> seen_;
  std::vector<std::uint16_t> entries_;
};

}  // namespace

ImageRef ImageRef::allocate(std::size_t size, std::size_t fill_from, std::size_t fill_size) {
  // The count takes the first 64 bytes, so the image starts aligned for any of its parts.
  void* block = std::aligned_alloc(64, 64 + (size + 63) / 64 * 64);
  if (!block) throw std::bad_alloc();
  new (block) std::atomic<std::size_t>(1);
  std::byte* const image = static_cast<std::byte*>(block) + 64;
  if (fill_from > size || fill_size > size - fill_from) fill_from = fill_size = 0;
  std::memset(image, 0, fill_from);
  std::memset(image + fill_from + fill_size, 0, size - fill_from - fill_size);
  ImageRef r;
  r.block_ = block;
  return r;
}

Table::Table() : Table(0, {}) {}

Table::Table(std::uint64_t seed, std::vector<Rule> rules) {
  // A rule file never holds more (the loader says so with its position); a view's exclusion bits
  // have room for this many.
  if (rules.size() > kMaxRules)
    throw std::length_error("filters::Table: more than " + std::to_string(kMaxRules) + " rules");
  std::vector<TypeLists> types(kCallTypeCount);
  bool has_argv0 = false;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    const auto ri = static_cast<std::uint16_t>(i);
    has_argv0 = has_argv0 || r.match.argv0.has_value();
    for (std::size_t t = 0; t < kCallTypeCount; ++t) {
      if (!r.on_call(static_cast<CallType>(t))) continue;
      TypeLists& tl = types[t];
      tl.all.push_back(ri);
      tl.needs |= needs_of(r);
      // Only `port` is in the bitmap; a rule naming just local_port/peer_port is portless here.
      if (r.match.port) {
        add_ports(tl.ports, *r.match.port);
        tl.has_ports = true;
      } else {
        tl.has_portless = true;
        tl.portless.push_back(ri);
      }
      if (!r.match.family) {
        tl.familyless.push_back(ri);
        if (!r.match.port) tl.familyless_portless.push_back(ri);
      } else if (*r.match.family >= 0 && *r.match.family < image::kFamilySlots) {
        tl.named[*r.match.family] = true;   // a family past the slots is in no slot's list
      }
    }
  }

  image::Header h{};
  std::memcpy(h.magic, image::kMagic, sizeof h.magic);
  h.version = image::kVersion;
  h.rule_size = sizeof(Rule);
  h.match_size = sizeof(Match);
  h.when_size = sizeof(When);
  h.action_size = sizeof(Action);
  h.rule_count = static_cast<std::uint32_t>(rules.size());
  h.has_argv0 = has_argv0 ? 1 : 0;
  h.seed = seed;
  Pool pool;
  std::vector<image::TypeIndex> index(kCallTypeCount);
  std::size_t at = align_up(sizeof h, alignof(image::TypeIndex));
  h.types = static_cast<std::uint32_t>(at);
  at += kCallTypeCount * sizeof(image::TypeIndex);
  at = align_up(at, alignof(Rule));
  h.rules = static_cast<std::uint32_t>(at);
  at += rules.size() * sizeof(Rule);
  std::vector<std::size_t> port_offsets(kCallTypeCount, 0);
  for (std::size_t t = 0; t < kCallTypeCount; ++t) {
    const TypeLists& tl = types[t];
    image::TypeIndex& ti = index[t];
    ti.needs = tl.needs;
    ti.has_portless = tl.has_portless ? 1 : 0;
    ti.all = pool.add(tl.all);
    ti.portless = pool.add(tl.portless);
    const image::List familyless = pool.add(tl.familyless);
    const image::List familyless_portless = pool.add(tl.familyless_portless);
    std::vector<std::uint16_t> list, portless;
    for (int fam = 0; fam < image::kFamilySlots; ++fam) {
      if (!tl.named[fam]) {
        ti.by_family[fam] = familyless;
        ti.portless_by_family[fam] = familyless_portless;
        continue;
      }
      // The family's own rules and those without a family key, in file order.
      list.clear();
      portless.clear();
      for (const std::uint16_t ri : tl.all) {
        const Match& m = rules[ri].match;
        if (m.family && *m.family != fam) continue;
        list.push_back(ri);
        if (!m.port) portless.push_back(ri);
      }
      ti.by_family[fam] = pool.add(list);
      ti.portless_by_family[fam] = pool.add(portless);
    }
    if (tl.has_ports) {
      at = align_up(at, alignof(std::uint64_t));
      port_offsets[t] = at;
      ti.ports = static_cast<std::uint32_t>(at);
      at += sizeof tl.ports;
    }
  }
  at = align_up(at, alignof(std::uint16_t));
  h.pool = static_cast<std::uint32_t>(at);
  h.pool_count = static_cast<std::uint32_t>(pool.entries().size());
  at += pool.entries().size() * sizeof(std::uint16_t);
  if (at > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("filters::Table: image over 4 GiB");
  h.size = static_cast<std::uint32_t>(at);

  ImageRef owned = ImageRef::allocate(at, h.rules, rules.size() * sizeof(Rule));
  std::byte* const buf = owned.data();
  std::memcpy(buf, &h, sizeof h);
  std::memcpy(buf + h.types, index.data(), kCallTypeCount * sizeof(image::TypeIndex));
  if (!rules.empty()) std::memcpy(buf + h.rules, rules.data(), rules.size() * sizeof(Rule));
  for (std::size_t t = 0; t < kCallTypeCount; ++t)
    if (port_offsets[t]) std::memcpy(buf + port_offsets[t], types[t].ports, sizeof types[t].ports);
  if (!pool.entries().empty())
    std::memcpy(buf + h.pool, pool.entries().data(), pool.entries().size() * sizeof(std::uint16_t));
  owned_ = std::move(owned);
  base_ = owned_.data();
  header_ = h;
  types_ = reinterpret_cast<const image::TypeIndex*>(base_ + h.types);
  rules_ = reinterpret_cast<const Rule*>(base_ + h.rules);
  pool_ = reinterpret_cast<const std::uint16_t*>(base_ + h.pool);
  summarize();
}

}  // namespace filters
