#include "filters/table.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

namespace filters {
namespace {

std::string format_load_error(const std::string& file, int line, int col, const std::string& key,
                              const std::string& message) {
  // Line 0 means "no position" (the file could not be read): "FILE: message" then, so the text
  // never shows a made-up 0:0 that an editor would jump to.
  std::string out = file;
  if (line > 0) out += ':' + std::to_string(line) + ':' + std::to_string(col);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

// Bits for every port some rule of one call type names, ranges included: whole 64-bit words at
// a time, so a rule costs the words its range spans and a table of single ports costs nothing
// like a pass over all 65536 ports (this runs in every process the shim starts in).
std::shared_ptr<const std::bitset<65536>> port_bitmap(const std::vector<Rule>& rules,
                                                      const std::vector<std::uint16_t>& indices) {
  std::shared_ptr<std::bitset<65536>> bits;
  std::array<std::uint64_t, 65536 / 64> words{};
  for (const std::uint16_t i : indices) {
    const auto& port = rules[i].match.port;
    if (!port || port->first > port->last) continue;
    const std::size_t first = port->first, last = port->last;
    for (std::size_t w = first / 64; w <= last / 64; ++w) {
      const std::size_t lo = w == first / 64 ? first % 64 : 0;
      const std::size_t hi = w == last / 64 ? last % 64 : 63;
      const std::uint64_t upto_hi = hi == 63 ? ~std::uint64_t{0} : (std::uint64_t{1} << (hi + 1)) - 1;
      words[w] |= upto_hi & ~((std::uint64_t{1} << lo) - 1);
    }
    if (!bits) bits = std::make_shared<std::bitset<65536>>();
  }
  if (!bits) return nullptr;
  for (std::size_t w = 0; w < words.size(); ++w) {
    for (std::uint64_t v = words[w]; v != 0; v &= v - 1)   // only the set bits
      bits->set(w * 64 + static_cast<std::size_t>(__builtin_ctzll(v)));
  }
  return bits;
}

std::uint32_t needs_of(const Rule& r) {
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

}  // namespace

LoadError::LoadError(std::string file, int line, int col, std::string key, std::string message)
    : std::runtime_error(format_load_error(file, line, col, key, message)),
      file_(std::move(file)),
      key_(std::move(key)),
      message_(std::move(message)),
      line_(line),
      col_(col) {}

Table::Table(std::uint64_t seed, std::vector<Rule> rules) : seed_(seed), rules_(std::move(rules)) {
  // by_type_ holds 16-bit indices to keep the per-call scan cache-friendly.
  if (rules_.size() > std::numeric_limits<std::uint16_t>::max() + std::size_t{1}) {
    throw std::length_error("filters::Table: more than 65536 rules");
  }
  index(std::nullopt);
}

void Table::select_program(std::string_view argv0) {
  // Without an argv0 key the index for this program is the one the constructor built: building
  // it again would cost every process the shim starts in as much as the first time.
  const bool any = std::any_of(rules_.begin(), rules_.end(), [](const Rule& r) { return r.match.argv0.has_value(); });
  if (any) index(argv0);
}

void Table::index(std::optional<std::string_view> argv0) {
  for (std::size_t t = 0; t < kCallTypeCount; ++t) {
    by_type_[t].clear();
    for (auto& list : by_family_[t]) list.clear();
    portless_by_type_[t].clear();
    for (auto& list : portless_by_family_[t]) list.clear();
    has_portless_[t] = false;
    needs_[t] = 0;
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    if (argv0 && r.match.argv0 && !glob_match(*r.match.argv0, *argv0)) continue;
    for (std::size_t t = 0; t < kCallTypeCount; ++t) {
      if (!r.on_call(static_cast<CallType>(t))) continue;
      by_type_[t].push_back(static_cast<std::uint16_t>(i));
      // Only `port` is in the bitmap; a rule naming just local_port/peer_port is portless here.
      if (!r.match.port) {
        has_portless_[t] = true;
        portless_by_type_[t].push_back(static_cast<std::uint16_t>(i));
      }
      needs_[t] |= needs_of(r);
      for (int fam = 0; fam < kFamilySlots; ++fam) {
        if (r.match.family && *r.match.family != fam) continue;
        by_family_[t][static_cast<std::size_t>(fam)].push_back(static_cast<std::uint16_t>(i));
        if (!r.match.port)
          portless_by_family_[t][static_cast<std::size_t>(fam)].push_back(static_cast<std::uint16_t>(i));
      }
    }
  }
  for (std::size_t t = 0; t < kCallTypeCount; ++t) ports_[t] = port_bitmap(rules_, by_type_[t]);
}

// The rules worth trying for a call of type t on a socket of this family and service port, in
// file order; nullptr when none can match.
const std::vector<std::uint16_t>* Table::candidates(CallType t, int family, int service_port) const noexcept {
  const std::size_t i = idx(t);
  if (i >= kCallTypeCount || by_type_[i].empty()) return nullptr;
  // Could a rule with a `port` key match? Not when the port is unknown (a present key never
  // matches an unknown fact) or when no rule names it: one bit test instead of a scan.
  const bool port_rules_may_match = service_port >= 0 && service_port <= 65535 && ports_[i] &&
                                    (*ports_[i])[static_cast<std::size_t>(service_port)];
  if (!port_rules_may_match && !has_portless_[i]) return nullptr;
  const bool by_family = family >= 0 && family < kFamilySlots;
  const auto fam = static_cast<std::size_t>(by_family ? family : 0);
  const auto& list = port_rules_may_match
                         ? (by_family ? by_family_[i][fam] : by_type_[i])
                         : (by_family ? portless_by_family_[i][fam] : portless_by_type_[i]);
  return list.empty() ? nullptr : &list;
}

int Table::first_match(CallType t, const SocketFacts& f, int after) const noexcept {
  const auto* list = candidates(t, f.family, f.service_port);
  if (!list) return -1;
  for (const std::uint16_t r : *list) {
    if (static_cast<int>(r) > after && rules_[r].match.matches(f)) return r;
  }
  return -1;
}

}  // namespace filters
