// Small name tables (errno names, socket families, rule-file keys) and the "did you mean"
// helper that every message about a misspelled name uses. For loading only: may allocate.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace filters {

// The name is stored in the entry, not pointed to: a table of pointers is one relocation per
// entry, which the loader applies in every process the preload object starts in (the errno and
// socket option tables were about 400 of them, some 2 700 instructions per exec). A name longer
// than the array does not compile.
struct NamedValue {
  char name[28];
  int value;
};

// Exact, case-sensitive lookups: rule files spell names one way so they grep the same everywhere.
std::optional<int> value_of(std::span<const NamedValue> table, std::string_view name) noexcept;
// The first entry with this value, so a table lists the canonical name before its aliases.
const char* name_of(std::span<const NamedValue> table, int value) noexcept;

// Optimal-string-alignment distance (a swap of two neighbours costs one), ignoring ASCII case.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `wrong` within kMaxSuggestDistance edits, first one on ties;
// nullptr when nothing is that close, or when it would take rewriting all of `wrong`.
inline constexpr std::size_t kMaxSuggestDistance = 2;
const char* closest_name(std::string_view wrong, std::span<const char* const> candidates);
const char* closest_name(std::string_view wrong, std::span<const NamedValue> candidates);

// " (did you mean X?)" or "" — ready to append to a message.
std::string did_you_mean(const char* suggestion);

// "a, b, c": the list that "known: ..." messages print.
std::string join_names(std::span<const char* const> names);
std::string join_names(std::span<const NamedValue> table);

}  // namespace filters
