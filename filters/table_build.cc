// Compiling rules into a table image (filters/table_image.h), and checking an image before a
// Table views it.
#include <cstring>
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

// Every list of one call type before they go into the pool.
struct TypeLists {
  std::vector<std::uint16_t> all, portless;
  std::vector<std::uint16_t> by_family[image::kFamilySlots], portless_by_family[image::kFamilySlots];
  std::uint32_t needs = 0;
  bool has_portless = false;
  bool has_ports = false;
  std::uint64_t ports[image::kPortWords] = {};
};

// Bits for every port a rule names, ranges included: whole 64-bit words at a time, so a table of
// single ports never costs a pass over all 65 536 ports.
void add_ports(std::uint64_t* words, const PortRange& port) noexcept {
  if (port.first > port.last) return;
  const std::size_t first = port.first, last = port.last;
  for (std::size_t w = first / 64; w <= last / 64; ++w) {
    const std::size_t lo = w == first / 64 ? first % 64 : 0;
    const std::size_t hi = w == last / 64 ? last % 64 : 63;
    const std::uint64_t upto_hi = hi == 63 ? ~std::uint64_t{0} : (std::uint64_t{1} << (hi + 1)) - 1;
    words[w] |= upto_hi & ~((std::uint64_t{1} << lo) - 1);
  }
}

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

bool fail(std::string* why, const std::string& what) {
  if (why) *why = what;
  return false;
}

}  // namespace

Table::Table() : Table(0, {}) {}

Table::Table(std::uint64_t seed, std::vector<Rule> rules) {
  // The pool holds 16-bit indices to keep the per-call scan cache-friendly.
  if (rules.size() > std::numeric_limits<std::uint16_t>::max() + std::size_t{1})
    throw std::length_error("filters::Table: more than 65536 rules");
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
      for (int fam = 0; fam < image::kFamilySlots; ++fam) {
        if (r.match.family && *r.match.family != fam) continue;
        tl.by_family[fam].push_back(ri);
        if (!r.match.port) tl.portless_by_family[fam].push_back(ri);
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
    for (int fam = 0; fam < image::kFamilySlots; ++fam) {
      ti.by_family[fam] = pool.add(tl.by_family[fam]);
      ti.portless_by_family[fam] = pool.add(tl.portless_by_family[fam]);
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

  // operator new[] aligns to __STDCPP_DEFAULT_NEW_ALIGNMENT__ (16), enough for every part.
  std::shared_ptr<std::byte[]> buf(new std::byte[at]());
  std::memcpy(buf.get(), &h, sizeof h);
  std::memcpy(buf.get() + h.types, index.data(), kCallTypeCount * sizeof(image::TypeIndex));
  if (!rules.empty()) std::memcpy(buf.get() + h.rules, rules.data(), rules.size() * sizeof(Rule));
  for (std::size_t t = 0; t < kCallTypeCount; ++t)
    if (port_offsets[t]) std::memcpy(buf.get() + port_offsets[t], types[t].ports, sizeof types[t].ports);
  if (!pool.entries().empty())
    std::memcpy(buf.get() + h.pool, pool.entries().data(), pool.entries().size() * sizeof(std::uint16_t));
  owned_ = buf;
  base_ = owned_.get();
  header_ = h;
  types_ = reinterpret_cast<const image::TypeIndex*>(base_ + h.types);
  rules_ = reinterpret_cast<const Rule*>(base_ + h.rules);
  pool_ = reinterpret_cast<const std::uint16_t*>(base_ + h.pool);
  summarize();
}

std::optional<Table> Table::view(const void* bytes, std::size_t size, std::string* why) {
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
    if (h.rule_count > std::numeric_limits<std::uint16_t>::max() + std::uint32_t{1})
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
