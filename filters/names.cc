#include "filters/names.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace filters {
namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

template <class Candidates, class NameOf>
const char* closest(std::string_view wrong, const Candidates& candidates, NameOf name_of_entry) {
  const char* best = nullptr;
  std::size_t best_distance = kMaxSuggestDistance + 1;
  for (const auto& c : candidates) {
    const char* name = name_of_entry(c);
    // The distance is at least the difference in length: skipping those keeps a long wrong
    // word (a rule file may hold a 1 MiB string) from costing its length times every name's.
    const std::size_t size = std::string_view(name).size();
    if ((size > wrong.size() ? size - wrong.size() : wrong.size() - size) > kMaxSuggestDistance) continue;
    const std::size_t d = edit_distance(wrong, name);
    if (d < best_distance) {
      best = name;
      best_distance = d;
    }
  }
  // A word of one or two letters is within two edits of every short name: such a guess is noise.
  if (best != nullptr && best_distance >= wrong.size()) return nullptr;
  return best;
}

}  // namespace

std::optional<int> value_of(std::span<const NamedValue> table, std::string_view name) noexcept {
  for (const NamedValue& e : table) {
    if (name == e.name) return e.value;
  }
  return std::nullopt;
}

const char* name_of(std::span<const NamedValue> table, int value) noexcept {
  for (const NamedValue& e : table) {
    if (e.value == value) return e.name;
  }
  return nullptr;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rolling rows of the classic dynamic programme; the third one is for transpositions.
  std::vector<std::size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same = lower(a[i - 1]) == lower(b[j - 1]);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

const char* closest_name(std::string_view wrong, std::span<const char* const> candidates) {
  return closest(wrong, candidates, [](const char* c) { return c; });
}

const char* closest_name(std::string_view wrong, std::span<const NamedValue> candidates) {
  return closest(wrong, candidates, [](const NamedValue& e) { return e.name; });
}

std::string did_you_mean(const char* suggestion) {
  if (suggestion == nullptr) return {};
  return std::string(" (did you mean ") + suggestion + "?)";
}

std::string join_names(std::span<const char* const> names) {
  std::string out;
  for (const char* n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string join_names(std::span<const NamedValue> table) {
  std::string out;
  for (const NamedValue& e : table) {
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out;
}

}  // namespace filters
