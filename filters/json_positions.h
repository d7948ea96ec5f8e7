// JSON with positions. nlohmann::json 3.11 keeps no source positions, but a rule-file error must
// name its line and column, so this parser builds the same DOM through the SAX interface and
// records where every value and every key starts, looked up by the path messages print.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "filters/table.h"

namespace filters {

// Paths read the way users write them: "rules[0].match.port". A key that would make the path
// ambiguous (empty, or not just letters, digits, '_' and '-') is quoted: rules[0]["a.b"].
std::string member_path(std::string_view parent, std::string_view key);
std::string element_path(std::string_view parent, std::size_t index);

// Byte offset -> 1-based line and column. A line ends at "\n", "\r\n" or a lone "\r"; columns
// count UTF-8 characters, not bytes, so they agree with what an editor shows. The constructor
// reads the text once and keeps a count of characters per 64-byte block, so at() reads at most
// two blocks whatever the offset: positions for a whole document cost time linear in its size,
// even on one long line.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);
  // Offsets past the end give the position just after the last character.
  Position at(std::size_t offset) const;
  // Bytes read so far, by the constructor and every at(): lets tests check the work is linear.
  std::size_t bytes_scanned() const noexcept { return scanned_; }

 private:
  static constexpr std::size_t kBlock = 64;
  std::size_t chars_before(std::size_t offset) const;   // UTF-8 lead bytes in [0, offset)

  std::string_view text_;
  std::vector<std::size_t> line_starts_;
  std::vector<std::size_t> block_chars_;   // [i]: chars_before(i * kBlock)
  mutable std::size_t scanned_ = 0;
};

struct PositionedJson;
// The two ways parse_json_with_positions works, apart so tests can compare them: a fast parser of
// the JSON rule files are commonly made of, which gives up (nullopt) on anything else, and the
// full one, which takes all of JSON and says what is wrong with the rest.
namespace detail {
std::optional<PositionedJson> parse_common_json(std::string_view text, std::size_t max_depth);
PositionedJson parse_full_json(std::string_view text, std::size_t max_depth);
}  // namespace detail

// A parsed document and where each of its values and keys starts. Positions live in a tree
// beside the DOM (one node per value; a key is stored once, in its member's node), not in maps keyed
// by full paths, which grow with the square of the nesting or of a long key's length. The tree is
// flat: nodes in document order, every key in one string, every node's children in one array, so
// a value costs no allocation of its own (per-node maps and vectors were a fifth of loading 1 000
// rules). Nodes keep byte offsets; lines and columns are worked out only for the positions asked
// for (a valid file asks for few: the shim loads one in every process it starts), from an index
// of the text built on the first question. The text must outlive the object.
struct PositionedJson {
  static constexpr std::size_t kNoKey = static_cast<std::size_t>(-1);
  struct Node {
    std::size_t value;                   // byte offset of the value's first character
    std::size_t key = kNoKey;            // of an object member's key (its '"')
    std::uint32_t parent = 0;            // nodes[0] has none
    std::uint32_t key_first = 0, key_size = 0;   // an object member's key, decoded, in `keys`
    // Children in `children`: an array's in order, an object's sorted by key (for find()).
    std::uint32_t child_first = 0, child_count = 0;
  };

  nlohmann::json value;
  std::vector<Node> nodes;     // nodes[0] is the top-level value; the rest in document order
  std::string keys;            // every member key, decoded, one after another
  std::vector<std::uint32_t> children;
  std::string_view text;

  std::string_view key_of(const Node& n) const { return std::string_view(keys).substr(n.key_first, n.key_size); }

  // Line and column of a byte offset of text (LineIndex::at).
  Position at(std::size_t offset) const;
  // Bytes the line index has read so far (LineIndex::bytes_scanned(); 0 before any position was
  // asked for): lets tests check that positions cost time linear in the text.
  std::size_t position_bytes_scanned() const { return lines_ ? lines_->bytes_scanned() : 0; }

  // By path as messages print it ("rules[0].match.port", rules[0]["a.b"]); {0, 0} when there is
  // no such value (or the path is not a member, for key_at).
  Position value_at(std::string_view path) const;
  Position key_at(std::string_view path) const;
  bool has_value(std::string_view path) const { return find(path) != nullptr; }
  bool has_key(std::string_view path) const;

 private:
  friend std::optional<PositionedJson> detail::parse_common_json(std::string_view, std::size_t);
  friend PositionedJson detail::parse_full_json(std::string_view, std::size_t);
  const Node* find(std::string_view path) const;
  const Node* member(const Node& n, std::string_view key) const;
  void link_children();
  mutable std::shared_ptr<const LineIndex> lines_;   // built by the first at()
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

// Strict RFC 8259 JSON: no comments, no trailing commas, one value, at most `max_depth` arrays
// and objects nested (refused at the first bracket deeper than that, before anything under it is
// read). Throws JsonSyntaxError, whose what() is the message alone (no "[json.exception...]"
// prefix, no position).
PositionedJson parse_json_with_positions(std::string_view text, std::size_t max_depth = kMaxDepth);

}  // namespace filters
