#include "filters/json_positions.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

namespace filters {
namespace {

using nlohmann::json;

bool is_plain_key(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

// Tells the SAX handler how far the lexer has read: nlohmann's iterator adapter dereferences and
// advances once per character, so after it has taken the character at offset i, *consumed is i+1.
class CountingIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator() = default;
  CountingIterator(const char* p, const char* base, std::size_t* consumed)
      : p_(p), base_(base), consumed_(consumed) {}

  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    ++p_;
    if (consumed_ != nullptr) *consumed_ = static_cast<std::size_t>(p_ - base_);
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const CountingIterator& other) const { return p_ == other.p_; }

 private:
  const char* p_ = nullptr;
  const char* base_ = nullptr;
  std::size_t* consumed_ = nullptr;
};

bool is_number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

bool is_word_char(char c) { return is_number_char(c) || (c >= 'a' && c <= 'z'); }

// The first character of the token whose last character is at `last`. For a string that is the
// first '"' before it not escaped, i.e. preceded by an even number of backslashes (inside a valid
// string every '"' is escaped); numbers and literals run back to the previous separator.
std::size_t token_start(std::string_view text, std::size_t last) {
  if (last >= text.size()) return last;
  if (text[last] == '"') {
    for (std::size_t i = last; i-- > 0;) {
      if (text[i] != '"') continue;
      std::size_t backslashes = 0;
      while (backslashes < i && text[i - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) return i;
    }
    return last;
  }
  if (!is_word_char(text[last])) return last;
  while (last > 0 && is_word_char(text[last - 1])) --last;
  return last;
}

// nlohmann's messages start "[json.exception.parse_error.101] parse error at line 1, column 7: "
// and may end "; last read: '...'" (raw text since the last string or number, often more than
// the bad token). We print our own position, in characters and counting "\r" line ends, which
// already shows the reader the spot, so only the middle is kept.
std::string strip_nlohmann_decoration(std::string message) {
  if (!message.empty() && message[0] == '[') {
    const auto end = message.find("] ");
    if (end != std::string::npos) message.erase(0, end + 2);
  }
  if (message.rfind("parse error at line ", 0) == 0) {
    const auto colon = message.find(": ");
    if (colon != std::string::npos) message.erase(0, colon + 2);
  } else if (message.rfind("parse error: ", 0) == 0) {
    message.erase(0, 13);
  }
  if (const auto last_read = message.rfind("; last read: "); last_read != std::string::npos) {
    message.erase(last_read);
  }
  return message;
}

// Builds the DOM as nlohmann's json_sax_dom_parser does, and records positions. A callback runs
// right after the lexer has read its token, so the token ends at *consumed_ (numbers excepted:
// the lexer has read one character past them); token_start() walks back to the first character.
class PositionRecorder {
 public:
  PositionRecorder(std::string_view text, const std::size_t* consumed, PositionedJson* out)
      : text_(text), lines_(text), consumed_(consumed), out_(out) {}

  bool null() { return add(nullptr, token_start(text_, token_end() - 1)); }
  bool boolean(bool v) { return add(v, token_start(text_, token_end() - 1)); }
  bool number_integer(json::number_integer_t v) { return add(v, number_start()); }
  bool number_unsigned(json::number_unsigned_t v) { return add(v, number_start()); }
  bool number_float(json::number_float_t v, const json::string_t& /*text*/) {
    return add(v, number_start());
  }
  bool string(json::string_t& v) { return add(std::move(v), token_start(text_, token_end() - 1)); }
  bool binary(json::binary_t& /*v*/) { return false; }  // JSON text never produces binary values

  bool start_object(std::size_t /*size*/) { return open(json::object()); }
  bool start_array(std::size_t /*size*/) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& k);

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const json::exception& ex);

  bool failed() const { return error_.has_value(); }
  const JsonSyntaxError& error() const { return *error_; }

 private:
  struct Frame {
    json* node;
    std::string path;
    std::size_t next_index = 0;
  };

  std::size_t token_end() const { return std::min(*consumed_, text_.size()); }
  std::size_t number_start() const;
  std::string next_path();
  json* insert(json&& v);
  bool add(json&& v, std::size_t start);
  bool open(json&& container);
  bool close() {
    frames_.pop_back();
    return true;
  }

  std::string_view text_;
  LineIndex lines_;
  const std::size_t* consumed_;
  PositionedJson* out_;
  std::vector<Frame> frames_;
  std::string key_;
  std::optional<JsonSyntaxError> error_;
};

std::size_t PositionRecorder::number_start() const {
  std::size_t end = token_end();
  if (end > 0 && !is_number_char(text_[end - 1])) --end;  // the one character of lookahead
  return token_start(text_, end - 1);
}

std::string PositionRecorder::next_path() {
  if (frames_.empty()) return {};
  Frame& top = frames_.back();
  if (top.node->is_array()) return element_path(top.path, top.next_index++);
  return member_path(top.path, key_);
}

json* PositionRecorder::insert(json&& v) {
  if (frames_.empty()) {
    out_->value = std::move(v);
    return &out_->value;
  }
  json& parent = *frames_.back().node;
  if (parent.is_array()) {
    parent.push_back(std::move(v));
    return &parent.back();
  }
  json& slot = parent[key_];
  slot = std::move(v);
  return &slot;
}

bool PositionRecorder::add(json&& v, std::size_t start) {
  out_->value_positions[next_path()] = lines_.at(start);
  insert(std::move(v));
  return true;
}

bool PositionRecorder::open(json&& container) {
  std::string path = next_path();
  out_->value_positions[path] = lines_.at(token_end() - 1);
  json* node = insert(std::move(container));
  frames_.push_back(Frame{node, std::move(path)});
  return true;
}

bool PositionRecorder::key(json::string_t& k) {
  const Frame& top = frames_.back();
  std::string path = member_path(top.path, k);
  const Position here = lines_.at(token_start(text_, token_end() - 1));
  if (top.node->contains(k)) {
    const Position first = out_->key_at(path);
    error_.emplace(here, path,
                   "duplicate key \"" + k + "\" (first at " + std::to_string(first.line) + ":" +
                       std::to_string(first.col) + ")");
    return false;
  }
  out_->key_positions[path] = here;
  key_ = std::move(k);
  return true;
}

bool PositionRecorder::parse_error(std::size_t position, const std::string& /*last_token*/,
                                   const json::exception& ex) {
  // `position` counts the characters read, the offending one included. When the parser rejects
  // a whole token ("unexpected string literal") point at its start, as for values; when the
  // lexer rejects a character ("invalid literal") point at that character.
  std::string message = strip_nlohmann_decoration(ex.what());
  std::size_t offset = position > 0 ? position - 1 : 0;
  if (message.find(" - unexpected ") != std::string::npos) offset = token_start(text_, offset);
  error_.emplace(lines_.at(offset), "", std::move(message));
  return false;
}

}  // namespace

std::string member_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (is_plain_key(key)) {
    if (!out.empty()) out += '.';
    out += key;
  } else {
    // Keys come from the parser, so they are valid UTF-8 and dump() cannot throw.
    out += '[' + json(std::string(key)).dump() + ']';
  }
  return out;
}

std::string element_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + '[' + std::to_string(index) + ']';
}

LineIndex::LineIndex(std::string_view text) : text_(text), line_starts_{0} {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) {
      line_starts_.push_back(i + 1);
    }
  }
}

Position LineIndex::at(std::size_t offset) const {
  offset = std::min(offset, text_.size());
  const auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const std::size_t line = static_cast<std::size_t>(next - line_starts_.begin());
  std::size_t start = line_starts_[line - 1];
  if (start == 0 && text_.substr(0, 3) == "\xEF\xBB\xBF") start = std::min<std::size_t>(3, offset);
  int col = 1;
  for (std::size_t i = start; i < offset; ++i) {
    if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++col;  // skip continuation bytes
  }
  return Position{static_cast<int>(line), col};
}

Position PositionedJson::value_at(const std::string& path) const {
  const auto it = value_positions.find(path);
  return it == value_positions.end() ? Position{} : it->second;
}

Position PositionedJson::key_at(const std::string& path) const {
  const auto it = key_positions.find(path);
  return it == key_positions.end() ? Position{} : it->second;
}

JsonSyntaxError::JsonSyntaxError(Position pos, std::string path, const std::string& message)
    : std::runtime_error(message), pos_(pos), path_(std::move(path)) {}

PositionedJson parse_json_with_positions(std::string_view text) {
  PositionedJson out;
  std::size_t consumed = 0;
  PositionRecorder recorder(text, &consumed, &out);
  const CountingIterator first(text.data(), text.data(), &consumed);
  const CountingIterator last(text.data() + text.size(), text.data(), nullptr);
  const bool ok = json::sax_parse(first, last, &recorder);
  if (recorder.failed()) throw recorder.error();
  if (!ok) throw JsonSyntaxError(LineIndex(text).at(consumed), "", "cannot parse JSON");
  return out;
}

}  // namespace filters
