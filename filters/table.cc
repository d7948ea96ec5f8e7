// Matching with a rule table: what the preload object runs on every call. Never allocates,
// locks or throws (the preload object is built without exceptions and without libstdc++).
#include "filters/table.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

namespace filters {
namespace {
std::atomic<std::size_t>& count_of(void* block) noexcept { return *static_cast<std::atomic<std::size_t>*>(block); }
}  // namespace

ImageRef::ImageRef(const ImageRef& o) noexcept : block_(o.block_) {
  if (block_) count_of(block_).fetch_add(1, std::memory_order_relaxed);
}

ImageRef::~ImageRef() {
  if (block_ && count_of(block_).fetch_sub(1, std::memory_order_acq_rel) == 1) std::free(block_);
}

std::byte* ImageRef::data() const noexcept { return block_ ? static_cast<std::byte*>(block_) + 64 : nullptr; }

std::uint32_t needs_of(const Rule& r) noexcept {
  const Match& m = r.match;
  std::uint32_t n = 0;
  if (m.peer || m.local || m.local_port || m.peer_port) n |= kNeedAddresses;
  if (m.path) n |= kNeedPath;
  if (m.role) n |= kNeedRole;
  if (m.host) n |= kNeedHost;
  if (r.when.needs_socket_bytes()) n |= kNeedSocketBytes;
  if (r.when.needs_connect_time()) n |= kNeedConnectTime;
  return n;
}

void Table::select_program(std::string_view argv0) noexcept {
  excluded_ = {};
  any_excluded_ = false;
  // Without an argv0 key there is nothing to leave out: the image's summary stands, and a process
  // pays nothing here.
  if (header_.has_argv0) {
    const std::span<const Rule> rs = rules();
    for (std::size_t i = 0; i < rs.size() && i < kMaxRules; ++i) {
      if (!rs[i].match.argv0 || glob_match(*rs[i].match.argv0, argv0)) continue;
      any_excluded_ = true;
      excluded_[i / 64] |= std::uint64_t{1} << (i % 64);
    }
  }
  summarize();
}

void Table::summarize() noexcept {
  for (std::size_t t = 0; t < kCallTypeCount; ++t) {
    const image::TypeIndex& ti = types_[t];
    const std::span<const std::uint16_t> all = list(ti.all);
    // The port bitmap and the portless flag, read once: checked here, never read again.
    const std::uint32_t ports = ti.ports;
    const bool ports_ok = ports != 0 && ports % alignof(std::uint64_t) == 0 &&
                          header_.size >= image::kPortWords * sizeof(std::uint64_t) &&
                          ports <= header_.size - image::kPortWords * sizeof(std::uint64_t);
    ports_[t] = ports_ok ? reinterpret_cast<const std::uint64_t*>(base_ + ports) : nullptr;
    has_portless_[t] = ti.has_portless != 0;
    if (!any_excluded_) {
      has_rules_[t] = !all.empty();
      needs_[t] = ti.needs;
      continue;
    }
    has_rules_[t] = false;
    needs_[t] = 0;
    for (const std::uint16_t r : all) {
      if (r >= header_.rule_count || excluded(r)) continue;
      has_rules_[t] = true;
      needs_[t] |= needs_of(rules_[r]);
    }
  }
}

// The rules worth trying for a call of type t on a socket of this family and service port, in
// file order; empty when none can match. Rules select_program left out may be in it.
std::span<const std::uint16_t> Table::candidates(CallType t, int family, int service_port) const noexcept {
  const std::size_t i = idx(t);
  if (i >= kCallTypeCount || !has_rules_[i]) return {};
  // Could a rule with a `port` key match? Not when the port is unknown (a present key never
  // matches an unknown fact) or when no rule names it: one bit test instead of a scan.
  const std::uint64_t* words = ports_[i];
  const auto p = static_cast<unsigned>(service_port);
  const bool port_rules_may_match = words && p <= 65535 && ((words[p / 64] >> (p % 64)) & 1u);
  if (!port_rules_may_match && !has_portless_[i]) return {};
  const image::TypeIndex& ti = types_[i];
  const bool by_family = family >= 0 && family < image::kFamilySlots;
  const auto fam = static_cast<std::size_t>(by_family ? family : 0);
  return list(port_rules_may_match ? (by_family ? ti.by_family[fam] : ti.all)
                                   : (by_family ? ti.portless_by_family[fam] : ti.portless));
}

int Table::first_match(CallType t, const SocketFacts& f, int after) const noexcept {
  for (const std::uint16_t r : candidates(t, f.family, f.service_port)) {
    if (static_cast<int>(r) > after && r < header_.rule_count && !excluded(r) && rules_[r].match.matches(f)) return r;
  }
  return -1;
}

}  // namespace filters
