#include "filters/json_positions.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

namespace filters {
namespace {

using nlohmann::json;

bool is_plain_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool is_plain_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), is_plain_key_char);
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
// Tokens arrive in document order, so the walks back never overlap: linear time overall.
class PositionRecorder {
 public:
  PositionRecorder(std::string_view text, const std::size_t* consumed, std::size_t max_depth,
                   PositionedJson* out)
      : text_(text), consumed_(consumed), max_depth_(max_depth), out_(out) {}

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
  // An open array or object. How its parent reaches it is read from its node (a member's key)
  // or kept here (an element's index); paths are only built for messages.
  struct Frame {
    json* node;
    std::uint32_t id;                 // its PositionedJson node
    std::size_t index = 0;            // an element's index in its array
  };

  std::size_t token_end() const { return std::min(*consumed_, text_.size()); }
  std::size_t number_start() const;
  std::string path_of_top() const;
  std::string next_path() const;
  std::optional<std::uint32_t> new_node(std::size_t start, Frame* frame);
  json* insert(json&& v);
  bool add(json&& v, std::size_t start);
  bool open(json&& container);
  bool close() {
    frames_.pop_back();
    return true;
  }

  std::string_view text_;
  const std::size_t* consumed_;
  std::size_t max_depth_;
  PositionedJson* out_;
  std::vector<Frame> frames_;
  std::string key_;        // the member key just read, and where it starts
  std::size_t key_pos_ = 0;
  std::optional<JsonSyntaxError> error_;
};

std::size_t PositionRecorder::number_start() const {
  std::size_t end = token_end();
  if (end > 0 && !is_number_char(text_[end - 1])) --end;  // the one character of lookahead
  return token_start(text_, end - 1);
}

std::string PositionRecorder::path_of_top() const {
  std::string path;
  for (std::size_t i = 1; i < frames_.size(); ++i) {
    const PositionedJson::Node& n = out_->nodes[frames_[i].id];
    path = n.key != PositionedJson::kNoKey ? member_path(path, out_->key_of(n))
                                           : element_path(path, frames_[i].index);
  }
  return path;
}

// The path of the value about to be added.
std::string PositionRecorder::next_path() const {
  if (frames_.empty()) return {};
  const Frame& top = frames_.back();
  if (top.node->is_array()) return element_path(path_of_top(), out_->nodes[top.id].child_count);
  return member_path(path_of_top(), key_);
}

// A position node for the value starting at `start`, linked into its parent; fills in how the
// parent reaches it when `frame` is given. Node ids are 32-bit: far more than a rule file needs.
std::optional<std::uint32_t> PositionRecorder::new_node(std::size_t start, Frame* frame) {
  constexpr std::size_t kMax = std::numeric_limits<std::uint32_t>::max();
  if (out_->nodes.size() >= kMax || out_->keys.size() + key_.size() >= kMax) {
    error_.emplace(out_->at(start), "", "too many values");
    return std::nullopt;
  }
  const auto id = static_cast<std::uint32_t>(out_->nodes.size());
  PositionedJson::Node node{start};
  if (!frames_.empty()) {
    node.parent = frames_.back().id;
    PositionedJson::Node& parent = out_->nodes[node.parent];
    if (frames_.back().node->is_array()) {
      if (frame) frame->index = parent.child_count;
    } else {
      node.key = key_pos_;
      node.key_first = static_cast<std::uint32_t>(out_->keys.size());
      node.key_size = static_cast<std::uint32_t>(key_.size());
      out_->keys += key_;
    }
    ++parent.child_count;
  }
  out_->nodes.push_back(node);
  return id;
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
  // new_node() has copied the key already.
  return &parent.get_ref<json::object_t&>().insert_or_assign(std::move(key_), std::move(v)).first->second;
}

bool PositionRecorder::add(json&& v, std::size_t start) {
  if (!new_node(start, nullptr)) return false;
  insert(std::move(v));
  return true;
}

bool PositionRecorder::open(json&& container) {
  const std::size_t start = token_end() - 1;
  if (frames_.size() >= max_depth_) {
    // Refused before anything below is read, so a deep document costs no more than a flat one.
    error_.emplace(out_->at(start), next_path(),
                   "nested too deeply: at most " + std::to_string(max_depth_) +
                       " arrays and objects may be inside one another");
    return false;
  }
  Frame frame{nullptr, 0};
  const auto id = new_node(start, &frame);
  if (!id) return false;
  frame.id = *id;
  frame.node = insert(std::move(container));
  frames_.push_back(frame);
  return true;
}

bool PositionRecorder::key(json::string_t& k) {
  const std::size_t here = token_start(text_, token_end() - 1);
  // The DOM's object has every key read so far; only the message needs the first one's node.
  if (frames_.back().node->contains(k)) {
    const std::uint32_t top = frames_.back().id;
    std::size_t first = top + 1;
    while (out_->nodes[first].parent != top || out_->key_of(out_->nodes[first]) != k) ++first;
    const Position at = out_->at(out_->nodes[first].key);
    error_.emplace(out_->at(here), member_path(path_of_top(), k),
                   "duplicate key \"" + k + "\" (first at " + std::to_string(at.line) + ":" +
                       std::to_string(at.col) + ")");
    return false;
  }
  key_ = std::move(k);
  key_pos_ = here;
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
  error_.emplace(out_->at(offset), "", std::move(message));
  return false;
}

// The common case, fast: the JSON a rule file is made of, parsed without nlohmann's lexer (which
// reads through an iterator adapter and keeps every token's text for its messages: most of a
// load's parse). It takes a strict subset of JSON: strings of printable ASCII without escapes,
// numbers (integers of at most 18 digits, 19 without a sign), true, false, null, and no byte
// order mark. Anything else, a syntax error, a duplicate key or nesting past the limit
// included, makes it give up; the full parser then reads the text again, so every message and
// every number or string conversion stays nlohmann's. It builds the same DOM and the same nodes.
// Byte classes for it, one table look-up a byte: blanks between tokens, and the bytes a string of
// the subset holds as they are (printable ASCII but '"' and '\\').
constexpr std::array<bool, 256> kBlank = [] {
  std::array<bool, 256> t{};
  t[' '] = t['\n'] = t['\r'] = t['\t'] = true;
  return t;
}();
constexpr std::array<bool, 256> kPlainStringByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

class CommonJsonParser {
 public:
  CommonJsonParser(std::string_view text, std::size_t max_depth, PositionedJson* out)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()),
        max_depth_(max_depth), out_(out) {}

  bool parse() {
    // Node ids and key offsets are 32-bit; far beyond any file the subset is meant for.
    if (static_cast<std::size_t>(end_ - begin_) >= std::numeric_limits<std::uint32_t>::max()) return false;
    if (!value(out_->value, 0, 0, PositionedJson::kNoKey, {})) return false;
    skip_blanks();
    return p_ == end_;
  }

 private:
  void skip_blanks() {
    while (p_ != end_ && kBlank[static_cast<unsigned char>(*p_)]) ++p_;
  }
  bool eat(char c) {
    skip_blanks();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  std::size_t offset() const { return static_cast<std::size_t>(p_ - begin_); }

  // The node of the value at the current offset, a member of `parent` when key_at is a key's.
  std::uint32_t add_node(std::uint32_t parent, std::size_t key_at, std::string_view key) {
    const auto id = static_cast<std::uint32_t>(out_->nodes.size());
    PositionedJson::Node n{offset()};
    if (id != 0) {
      n.parent = parent;
      ++out_->nodes[parent].child_count;
      if (key_at != PositionedJson::kNoKey) {
        n.key = key_at;
        n.key_first = static_cast<std::uint32_t>(out_->keys.size());
        n.key_size = static_cast<std::uint32_t>(key.size());
        out_->keys += key;
      }
    }
    out_->nodes.push_back(n);
    return id;
  }

  // A string in the subset: *p_ is its opening quote.
  bool string(std::string_view* s) {
    const char* const first = ++p_;
    while (p_ != end_ && kPlainStringByte[static_cast<unsigned char>(*p_)]) ++p_;
    if (p_ == end_ || *p_ != '"') return false;
    *s = std::string_view(first, static_cast<std::size_t>(p_ - first));
    ++p_;
    return true;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  // Digits from p_ on; how many.
  std::size_t digits() {
    const char* const first = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return static_cast<std::size_t>(p_ - first);
  }

  // RFC 8259's number, converted as nlohmann converts it: an unsigned integer, or a signed one
  // after '-'. Integers long enough to overflow, and numbers with a fraction or an exponent, are
  // left to it.
  bool number(json* slot) {
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    const char* const integer = p_;
    const std::size_t integer_digits = digits();
    if (integer_digits == 0 || (*integer == '0' && integer_digits > 1)) return false;
    bool is_float = false;
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (digits() == 0) return false;
      is_float = true;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (digits() == 0) return false;
      is_float = true;
    }
    // A fraction or an exponent: left to the full parser. std::from_chars for doubles would
    // make libsockshim-rules.so need libm (its rounding-mode calls), and the loader's
    // dependencies are libc alone (tests/shim/exports_test.py); rule files hold few such numbers.
    if (is_float) return false;
    if (integer_digits > (negative ? 18 : 19)) return false;
    std::uint64_t n = 0;
    for (const char* d = integer; d != p_; ++d) n = n * 10 + static_cast<std::uint64_t>(*d - '0');
    if (negative) *slot = -static_cast<std::int64_t>(n);
    else *slot = n;
    return true;
  }

  bool value(json& slot, std::size_t depth, std::uint32_t parent, std::size_t key_at, std::string_view key) {
    skip_blanks();
    if (p_ == end_) return false;
    const char c = *p_;
    if (c == '{' || c == '[') {
      if (depth >= max_depth_) return false;
      const std::uint32_t id = add_node(parent, key_at, key);
      ++p_;
      return c == '{' ? object(slot, depth + 1, id) : array(slot, depth + 1, id);
    }
    add_node(parent, key_at, key);
    if (c == '"') {
      std::string_view s;
      if (!string(&s)) return false;
      slot = std::string(s);
      return true;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(&slot);
    if (c == 't' && literal("true")) slot = true;
    else if (c == 'f' && literal("false")) slot = false;
    else if (c == 'n' && literal("null")) slot = nullptr;
    else return false;
    return true;
  }

  bool object(json& slot, std::size_t depth, std::uint32_t id) {
    slot = json::object();
    auto& members = slot.get_ref<json::object_t&>();
    if (eat('}')) return true;
    for (;;) {
      skip_blanks();
      if (p_ == end_ || *p_ != '"') return false;
      const std::size_t key_at = offset();
      std::string_view key;
      if (!string(&key) || !eat(':')) return false;
      const auto [it, inserted] = members.try_emplace(std::string(key));
      if (!inserted) return false;   // a duplicate key: the full parser says where
      if (!value(it->second, depth, id, key_at, key)) return false;
      if (eat(',')) continue;
      return eat('}');
    }
  }

  bool array(json& slot, std::size_t depth, std::uint32_t id) {
    slot = json::array();
    auto& elements = slot.get_ref<json::array_t&>();
    if (eat(']')) return true;
    for (;;) {
      elements.emplace_back();
      if (!value(elements.back(), depth, id, PositionedJson::kNoKey, {})) return false;
      if (eat(',')) continue;
      return eat(']');
    }
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  std::size_t max_depth_;
  PositionedJson* out_;
};

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

namespace {

// UTF-8 characters (bytes that are not continuation bytes, 10xxxxxx) in [p, p + len): eight bytes
// a step, since building the index reads the whole text on every load that asks for a position
// (each Rule keeps its own). Flags are summed in byte lanes and the lanes added by one multiply:
// x86-64's baseline has no popcount instruction (std::popcount became a libgcc call).
std::size_t count_chars(const char* p, std::size_t len) {
  constexpr std::uint64_t kHigh = 0x8080808080808080u, kOnes = 0x0101010101010101u;
  std::size_t continuation = 0, i = 0;
  while (i + 8 <= len) {
    std::uint64_t lanes = 0;   // at most 8 words: each lane stays at most 8, their sum at most 64
    for (int k = 0; k < 8 && i + 8 <= len; ++k, i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, sizeof w);
      // Bit 7 of a byte set and its bit 6 (shifted up into bit 7) clear: a continuation byte.
      lanes += (w & ~(w << 1) & kHigh) >> 7;
    }
    continuation += static_cast<std::size_t>((lanes * kOnes) >> 56);
  }
  for (; i < len; ++i) continuation += (static_cast<unsigned char>(p[i]) & 0xC0) == 0x80;
  return len - continuation;
}

}  // namespace

LineIndex::LineIndex(std::string_view text) : text_(text), line_starts_{0} {
  block_chars_.reserve(text.size() / kBlock + 1);
  std::size_t chars = 0;
  for (std::size_t b = 0; b < text.size(); b += kBlock) {
    block_chars_.push_back(chars);
    chars += count_chars(text.data() + b, std::min(kBlock, text.size() - b));
  }
  if (text.size() % kBlock == 0) block_chars_.push_back(chars);   // so every offset has its block
  // Line ends by memchr: "\n", "\r\n" (one end, at its "\n") or a lone "\r". npos sorts last.
  std::size_t nl = text.find('\n'), cr = text.find('\r');
  while (nl != std::string_view::npos || cr != std::string_view::npos) {
    if (cr < nl) {
      if (cr + 1 != nl) line_starts_.push_back(cr + 1);
      cr = text.find('\r', cr + 1);
    } else {
      line_starts_.push_back(nl + 1);
      nl = text.find('\n', nl + 1);
    }
  }
  scanned_ = text.size();
}

std::size_t LineIndex::chars_before(std::size_t offset) const {
  const std::size_t block = offset / kBlock;
  scanned_ += offset - block * kBlock;
  return block_chars_[block] + count_chars(text_.data() + block * kBlock, offset - block * kBlock);
}

Position LineIndex::at(std::size_t offset) const {
  offset = std::min(offset, text_.size());
  const auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const std::size_t line = static_cast<std::size_t>(next - line_starts_.begin());
  std::size_t start = line_starts_[line - 1];
  if (start == 0 && text_.substr(0, 3) == "\xEF\xBB\xBF") start = std::min<std::size_t>(3, offset);
  const std::size_t col = 1 + chars_before(offset) - chars_before(start);
  return Position{static_cast<int>(line), static_cast<int>(std::min<std::size_t>(col, INT_MAX))};
}

// Reads back what member_path and element_path write: "a.b", "[3]", "[\"a.b\"]", in any order.
const PositionedJson::Node* PositionedJson::find(std::string_view path) const {
  if (nodes.empty()) return nullptr;
  const Node* n = &nodes[0];
  std::size_t i = 0;
  while (n != nullptr && i < path.size()) {
    if (path[i] == '[' && i + 1 < path.size() && path[i + 1] == '"') {
      std::size_t close = i + 2;   // the string's closing quote
      while (close < path.size() && path[close] != '"') close += path[close] == '\\' ? 2 : 1;
      if (close + 1 >= path.size() || path[close + 1] != ']') return nullptr;
      const json key = json::parse(path.substr(i + 1, close - i), nullptr, false);
      if (!key.is_string()) return nullptr;
      n = member(*n, key.get_ref<const std::string&>());
      i = close + 2;
    } else if (path[i] == '[') {
      const std::size_t close = path.find(']', i);
      std::size_t index = 0;
      const char* digits = path.data() + i + 1;
      const char* end = close == std::string_view::npos ? digits : path.data() + close;
      const auto [stop, ec] = std::from_chars(digits, end, index);
      if (digits == end || ec != std::errc() || stop != end || index >= n->child_count) return nullptr;
      n = &nodes[children[n->child_first + index]];
      i = close + 1;
    } else {
      if (path[i] == '.' && i > 0) ++i;
      else if (i > 0) return nullptr;
      std::size_t end = i;
      while (end < path.size() && is_plain_key_char(path[end])) ++end;
      if (end == i) return nullptr;
      n = member(*n, path.substr(i, end - i));
      i = end;
    }
  }
  return n;
}

// An object's member by key: its children are sorted by key. nullptr for anything else.
const PositionedJson::Node* PositionedJson::member(const Node& n, std::string_view key) const {
  if (n.child_count == 0 || text[n.value] != '{') return nullptr;
  const auto first = children.begin() + n.child_first, last = first + n.child_count;
  const auto it = std::lower_bound(first, last, key, [&](std::uint32_t id, std::string_view k) {
    return key_of(nodes[id]) < k;
  });
  return it != last && key_of(nodes[*it]) == key ? &nodes[*it] : nullptr;
}

// Lays out every node's children in `children` (counted by new_node), in document order, then
// sorts each object's by key: two passes over the nodes and one allocation for the whole tree.
void PositionedJson::link_children() {
  std::uint32_t next = 0;
  for (Node& n : nodes) {
    n.child_first = next;
    next += n.child_count;
    n.child_count = 0;
  }
  children.resize(next);
  for (std::size_t id = 1; id < nodes.size(); ++id) {
    Node& parent = nodes[nodes[id].parent];
    children[parent.child_first + parent.child_count++] = static_cast<std::uint32_t>(id);
  }
  for (const Node& n : nodes) {
    if (n.child_count < 2 || text[n.value] != '{') continue;
    std::sort(children.begin() + n.child_first, children.begin() + n.child_first + n.child_count,
              [&](std::uint32_t a, std::uint32_t b) { return key_of(nodes[a]) < key_of(nodes[b]); });
  }
}

Position PositionedJson::at(std::size_t offset) const {
  if (!lines_) lines_ = std::make_shared<const LineIndex>(text);
  return lines_->at(offset);
}

Position PositionedJson::value_at(std::string_view path) const {
  const Node* n = find(path);
  return n ? at(n->value) : Position{};
}

Position PositionedJson::key_at(std::string_view path) const {
  const Node* n = find(path);
  return n && n->key != kNoKey ? at(n->key) : Position{};
}

bool PositionedJson::has_key(std::string_view path) const {
  const Node* n = find(path);
  return n != nullptr && n->key != kNoKey;
}

JsonSyntaxError::JsonSyntaxError(Position pos, std::string path, const std::string& message)
    : std::runtime_error(message), pos_(pos), path_(std::move(path)) {}

namespace detail {

std::optional<PositionedJson> parse_common_json(std::string_view text, std::size_t max_depth) {
  PositionedJson out;
  out.text = text;
  if (!CommonJsonParser(text, max_depth, &out).parse()) return std::nullopt;
  out.link_children();
  return out;
}

PositionedJson parse_full_json(std::string_view text, std::size_t max_depth) {
  PositionedJson out;
  out.text = text;
  std::size_t consumed = 0;
  PositionRecorder recorder(text, &consumed, max_depth, &out);
  const CountingIterator first(text.data(), text.data(), &consumed);
  const CountingIterator last(text.data() + text.size(), text.data(), nullptr);
  const bool ok = json::sax_parse(first, last, &recorder);
  if (recorder.failed()) throw recorder.error();
  if (!ok) throw JsonSyntaxError(out.at(consumed), "", "cannot parse JSON");
  out.link_children();
  return out;
}

}  // namespace detail

PositionedJson parse_json_with_positions(std::string_view text, std::size_t max_depth) {
  if (auto common = detail::parse_common_json(text, max_depth)) return std::move(*common);
  return detail::parse_full_json(text, max_depth);
}

}  // namespace filters
