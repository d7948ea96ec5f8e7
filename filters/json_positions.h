// JSON with positions. nlohmann::json 3.11 keeps no source positions, but a rule-file error must
// name its line and column, so this parser builds the same DOM through the SAX interface and
// records where every value and every key starts, keyed by the path messages print.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "filters/table.h"

namespace filters {

// Paths read the way users write them: "rules[0].match.port". A key that would make the path
// ambiguous (empty, or not just letters, digits, '_' and '-') is quoted: rules[0]["a.b"].
std::string member_path(std::string_view parent, std::string_view key);
std::string element_path(std::string_view parent, std::size_t index);

// Byte offset -> 1-based line and column. A line ends at "\n", "\r\n" or a lone "\r"; columns
// count UTF-8 characters, not bytes, so they agree with what an editor shows.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);
  // Offsets past the end give the position just after the last character.
  Position at(std::size_t offset) const;

 private:
  std::string_view text_;
  std::vector<std::size_t> line_starts_;
};

// A parsed document and where each of its values and keys starts.
struct PositionedJson {
  nlohmann::json value;
  std::unordered_map<std::string, Position> value_positions;  // path -> first character
  std::unordered_map<std::string, Position> key_positions;    // member path -> its key's '"'
  Position value_at(const std::string& path) const;  // {0, 0} when there is no such value
  Position key_at(const std::string& path) const;
};

// Text that is not JSON, or an object that has the same key twice (which nlohmann would
// silently resolve by keeping the last one).
class JsonSyntaxError : public std::runtime_error {
 public:
  JsonSyntaxError(Position pos, std::string path, const std::string& message);
  Position pos() const noexcept { return pos_; }
  const std::string& path() const noexcept { return path_; }  // "" except for duplicate keys

 private:
  Position pos_;
  std::string path_;
};

// Strict RFC 8259 JSON: no comments, no trailing commas, one value. Throws JsonSyntaxError,
// whose what() is the message alone (no "[json.exception...]" prefix, no position).
PositionedJson parse_json_with_positions(std::string_view text);

}  // namespace filters
