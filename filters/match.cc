// Matching a call's facts against a rule: plain comparisons, a CIDR test and a glob. Everything
// here runs inside wrapped calls, so nothing allocates, locks or reads locale or errno.
#include <netinet/in.h>

#include <cstddef>
#include <string_view>

#include "filters/table.h"

namespace filters {
namespace {

// The first `bits` bits of a and b are equal.
bool same_prefix(const std::uint8_t* a, const std::uint8_t* b, int bits) noexcept {
  if (bits < 0 || bits > 128) return false;   // never from the loader; a damaged compiled table
  const int whole = bits / 8;
  for (int i = 0; i < whole; ++i)
    if (a[i] != b[i]) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return ((a[whole] ^ b[whole]) & mask) == 0;
}

// ::ffff:a.b.c.d (RFC 4291 2.5.5.2): an IPv4 peer as a dual-stack socket reports it.
bool is_v4_mapped(const Address& a) noexcept {
  for (int i = 0; i < 10; ++i)
    if (a.bytes[static_cast<std::size_t>(i)] != 0) return false;
  return a.bytes[10] == 0xff && a.bytes[11] == 0xff;
}

// One pattern element at `p` against one character. `next` is where the element ends. A '[' with
// no closing ']' is an ordinary character (the loader refuses such patterns anyway).
bool match_one(std::string_view pat, std::size_t p, unsigned char ch, std::size_t& next) noexcept {
  const char c = pat[p];
  if (c == '?') {
    next = p + 1;
    return true;
  }
  if (c == '\\' && p + 1 < pat.size()) {
    next = p + 2;
    return static_cast<unsigned char>(pat[p + 1]) == ch;
  }
  if (c != '[') {
    next = p + 1;
    return static_cast<unsigned char>(c) == ch;
  }
  std::size_t i = p + 1;
  const bool negate = i < pat.size() && (pat[i] == '!' || pat[i] == '^');
  if (negate) ++i;
  bool in_class = false;
  // A ']' right after '[' or '[!' is a member, as in POSIX fnmatch.
  for (bool first = true; i < pat.size() && (first || pat[i] != ']'); first = false, ++i) {
    if (pat[i] == '\\' && i + 1 < pat.size()) ++i;
    const auto lo = static_cast<unsigned char>(pat[i]);
    auto hi = lo;
    if (i + 2 < pat.size() && pat[i + 1] == '-' && pat[i + 2] != ']') {
      i += 2;
      if (pat[i] == '\\' && i + 1 < pat.size()) ++i;
      hi = static_cast<unsigned char>(pat[i]);
    }
    if (lo <= ch && ch <= hi) in_class = true;
  }
  if (i >= pat.size()) {
    next = p + 1;
    return ch == '[';
  }
  next = i + 1;
  return in_class != negate;
}

}  // namespace

bool Cidr::contains(const Address& a) const noexcept {
  if (a.family == family) return same_prefix(a.bytes.data(), bytes.data(), prefix);
  if (family == AF_INET && a.family == AF_INET6 && is_v4_mapped(a))
    return same_prefix(a.bytes.data() + 12, bytes.data(), prefix);
  return false;
}

// The classic single-backtrack matcher: on a mismatch, the last '*' swallows one more character.
// Linear in practice and never worse than pattern × text; no recursion, no allocation.
bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      if (pattern[p] == '*') {
        star = ++p;
        star_t = t;
        continue;
      }
      std::size_t next = p;
      if (match_one(pattern, p, static_cast<unsigned char>(text[t]), next)) {
        p = next;
        ++t;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    p = star;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool Match::matches(const SocketFacts& f) const noexcept {
  // A present key never matches an unknown fact (-1, null): "port 6379" must not fire on a
  // socket whose peer the shim could not learn.
  if (family && (f.family < 0 || *family != f.family)) return false;
  if (type && (f.type < 0 || *type != f.type)) return false;
  if (protocol && (f.protocol < 0 || *protocol != f.protocol)) return false;
  if (port && (f.service_port < 0 || !port->contains(f.service_port))) return false;
  if (local_port && (f.local_port < 0 || !local_port->contains(f.local_port))) return false;
  if (peer_port && (f.peer_port < 0 || !peer_port->contains(f.peer_port))) return false;
  if (peer && !peer->contains(f.peer)) return false;
  if (local && !local->contains(f.local)) return false;
  if (role && (f.role == Role::kUnknown || *role != f.role)) return false;
  if (level && (f.level < 0 || *level != f.level)) return false;
  if (option && (f.option < 0 || *option != f.option)) return false;
  if (path && (f.path == nullptr || !glob_match(*path, f.path))) return false;
  if (host && (f.host == nullptr || !glob_match(*host, f.host))) return false;
  return true;
}

}  // namespace filters
