#include "filters/table.h"

#include <cstdint>
#include <span>
#include <string>
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

}  // namespace

LoadError::LoadError(std::string file, int line, int col, std::string key, std::string message)
    : std::runtime_error(format_load_error(file, line, col, key, message)),
      file_(std::move(file)),
      key_(std::move(key)),
      message_(std::move(message)),
      line_(line),
      col_(col) {}

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

void Table::select_program(std::string_view argv0) {
  excluded_.clear();
  // Without an argv0 key there is nothing to leave out: the image's summary stands, and a process
  // pays nothing here.
  if (header_.has_argv0) {
    const std::span<const Rule> rs = rules();
    for (std::size_t i = 0; i < rs.size(); ++i) {
      if (!rs[i].match.argv0 || glob_match(*rs[i].match.argv0, argv0)) continue;
      if (excluded_.empty()) excluded_.assign((rs.size() + 63) / 64, 0);
      excluded_[i / 64] |= std::uint64_t{1} << (i % 64);
    }
  }
  summarize();
}

void Table::summarize() {
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
    if (excluded_.empty()) {
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
