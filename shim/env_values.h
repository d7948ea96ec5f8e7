// The values of the environment variables the shim reads before main and `sockshim run` writes,
// parsed one way for both: a seed given as SOCKSHIM_SEED means what `--seed` means. Allocation-
// free, so the preload object can use them in its constructor.
#pragma once

#include <charconv>
#include <cstdint>
#include <string_view>

namespace shim {

// A seed: decimal, or hexadecimal after "0x"/"0X"; no sign, no spaces, nothing after the digits,
// at most 2^64-1. False (and out untouched) for anything else: a seed is a reproducibility
// handle, so "abc", "-1", "7abc" or "010" (octal to strtoull) must not quietly mean some number.
inline bool parse_seed(std::string_view text, std::uint64_t& out) noexcept {
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const char* first = text.data() + (hex ? 2 : 0);
  const char* last = text.data() + text.size();
  if (text.empty() || first == last || *first == '+' || *first == '-') return false;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(first, last, value, hex ? 16 : 10);
  if (ec != std::errc() || end != last) return false;
  out = value;
  return true;
}

inline constexpr const char* kSeedSyntax = "0 to 18446744073709551615, or 0x followed by hex digits";

// An on/off switch such as SOCKSHIM_DEBUG: 1/true/yes/on or 0/false/no/off (any case); empty
// means off. False for anything else.
inline bool parse_switch(std::string_view text, bool& out) noexcept {
  auto is = [&](std::string_view word) {
    if (text.size() != word.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
      char c = text[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != word[i]) return false;
    }
    return true;
  };
  if (text.empty() || is("0") || is("false") || is("no") || is("off")) {
    out = false;
    return true;
  }
  if (is("1") || is("true") || is("yes") || is("on")) {
    out = true;
    return true;
  }
  return false;
}

// The variables the preload object reads, found in one pass over the environment: four getenv()
// calls walked it four times, through a libc function the loader had to bind first.
struct ShimEnv {
  const char* rules = nullptr;   // SOCKSHIM_RULES
  const char* stats = nullptr;   // SOCKSHIM_STATS
  const char* seed = nullptr;    // SOCKSHIM_SEED
  const char* debug = nullptr;   // SOCKSHIM_DEBUG
  const char* capture = nullptr; // SOCKSHIM_CAPTURE: the capture ring of a --pcap run
};

// The entry's text after `prefix`, or null when it does not start with it. Reads no further than
// the first difference: most of the environment is never measured (strlen over every entry was
// most of what reading it cost, in every process).
inline const char* after_prefix(const char* entry, std::string_view prefix) noexcept {
  for (const char c : prefix)
    if (*entry++ != c) return nullptr;
  return entry;
}

// As getenv() would answer for each: the first entry of a name wins.
inline ShimEnv read_shim_env(const char* const* envp) noexcept {
  ShimEnv env;
  for (; envp && *envp; ++envp) {
    const char* rest = after_prefix(*envp, "SOCKSHIM_");
    if (!rest) continue;
    auto take = [&](std::string_view name, const char*& slot) {
      if (slot) return;
      const char* value = after_prefix(rest, name);
      if (value && *value == '=') slot = value + 1;
    };
    take("RULES", env.rules);
    take("STATS", env.stats);
    take("SEED", env.seed);
    take("DEBUG", env.debug);
    take("CAPTURE", env.capture);
  }
  return env;
}

}  // namespace shim
