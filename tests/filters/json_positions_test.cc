// json_positions: the DOM must equal nlohmann's own, and every recorded position must be the
// first character of its token, whatever surrounds it (escapes, lookahead after numbers, CRLF).
#include "filters/json_positions.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <regex>
#include <string>
#include <vector>
#include "tests/catch.h"

namespace filters {
namespace {

std::string at(Position p) { return std::to_string(p.line) + ":" + std::to_string(p.col); }

std::string value_at(const PositionedJson& doc, const std::string& path) {
  INFO("path " << path);
  REQUIRE(doc.has_value(path));
  return at(doc.value_at(path));
}

std::string key_at(const PositionedJson& doc, const std::string& path) {
  INFO("path " << path);
  REQUIRE(doc.has_key(path));
  return at(doc.key_at(path));
}

// The error a text gives, as "LINE:COL PATH|MESSAGE", or "no error".
std::string syntax_error(std::string_view text) {
  try {
    parse_json_with_positions(text);
  } catch (const JsonSyntaxError& e) {
    return at(e.pos()) + " " + e.path() + "|" + e.what();
  }
  return "no error";
}

TEST_CASE("positioned parse builds the same DOM as nlohmann::json::parse", "[filters]") {
  const std::string text = R"({"a": [1, -2, 3.5, true, false, null, "x\"y", {}, []],
    "b": {"c": {"d": "\u00e9"}}, "e": 18446744073709551615, "f": -9223372036854775808})";
  const PositionedJson doc = parse_json_with_positions(text);
  const nlohmann::json want = nlohmann::json::parse(text);
  CHECK(doc.value == want);
  CHECK(doc.value["a"][2].is_number_float());
  CHECK(doc.value["e"].is_number_unsigned());
}

TEST_CASE("positions of keys and of nested values", "[filters]") {
  const std::string text =
      "{\"seed\": 7,\n"
      " \"rules\": [\n"
      "   {\"name\": \"r\", \"on\": [\"connect\", \"send\"],\n"
      "    \"match\": {\"port\": 6379}}]}\n";
  const PositionedJson doc = parse_json_with_positions(text);
  CHECK(value_at(doc, "") == "1:1");
  CHECK(key_at(doc, "seed") == "1:2");
  CHECK(value_at(doc, "seed") == "1:10");
  CHECK(key_at(doc, "rules") == "2:2");
  CHECK(value_at(doc, "rules") == "2:11");
  CHECK(value_at(doc, "rules[0]") == "3:4");
  CHECK(key_at(doc, "rules[0].name") == "3:5");
  CHECK(value_at(doc, "rules[0].name") == "3:13");
  CHECK(value_at(doc, "rules[0].on") == "3:24");
  CHECK(value_at(doc, "rules[0].on[0]") == "3:25");
  CHECK(value_at(doc, "rules[0].on[1]") == "3:36");
  CHECK(key_at(doc, "rules[0].match") == "4:5");
  CHECK(value_at(doc, "rules[0].match") == "4:14");
  CHECK(key_at(doc, "rules[0].match.port") == "4:15");
  CHECK(value_at(doc, "rules[0].match.port") == "4:23");  // number right before '}'
}

TEST_CASE("strings with escaped quotes and backslashes start at their opening quote", "[filters]") {
  const std::string text = R"({"k\"ey": "a\"b", "x": "\\", "y": "\\\"", "z": ["\"", "q"]})";
  const PositionedJson doc = parse_json_with_positions(text);
  CHECK(key_at(doc, R"(["k\"ey"])") == "1:2");
  CHECK(value_at(doc, R"(["k\"ey"])") == "1:11");
  CHECK(value_at(doc, "x") == "1:24");
  CHECK(value_at(doc, "y") == "1:35");
  CHECK(value_at(doc, "z[0]") == "1:49");
  CHECK(value_at(doc, "z[1]") == "1:55");
}

TEST_CASE("numbers and literals, with and without lookahead", "[filters]") {
  SECTION("number ending the text") {
    const PositionedJson doc = parse_json_with_positions("  -12.5e3");
    CHECK(value_at(doc, "") == "1:3");
  }
  SECTION("numbers before ',', ']', '}' and whitespace") {
    const PositionedJson doc = parse_json_with_positions("{\"a\":[1,22 ,333],\"b\":-4}");
    CHECK(value_at(doc, "a[0]") == "1:7");
    CHECK(value_at(doc, "a[1]") == "1:9");
    CHECK(value_at(doc, "a[2]") == "1:13");
    CHECK(value_at(doc, "b") == "1:22");
  }
  SECTION("literals") {
    const PositionedJson doc = parse_json_with_positions("[true,false, null]");
    CHECK(value_at(doc, "[0]") == "1:2");
    CHECK(value_at(doc, "[1]") == "1:7");
    CHECK(value_at(doc, "[2]") == "1:14");
  }
}

TEST_CASE("line ends: LF, CRLF and lone CR", "[filters]") {
  SECTION("CRLF") {
    const PositionedJson doc = parse_json_with_positions("{\r\n  \"a\": 1,\r\n  \"b\": \"x\"\r\n}");
    CHECK(key_at(doc, "a") == "2:3");
    CHECK(value_at(doc, "a") == "2:8");
    CHECK(value_at(doc, "b") == "3:8");
  }
  SECTION("lone CR") {
    const PositionedJson doc = parse_json_with_positions("{\r\"a\":\r\r 1}");
    CHECK(value_at(doc, "a") == "4:2");
  }
}

TEST_CASE("columns count UTF-8 characters and skip a byte order mark", "[filters]") {
  const PositionedJson doc = parse_json_with_positions("\xEF\xBB\xBF{\"\xC3\xA9t\xC3\xA9\": 1}");
  CHECK(value_at(doc, "") == "1:1");
  CHECK(key_at(doc, "[\"\xC3\xA9t\xC3\xA9\"]") == "1:2");
  CHECK(value_at(doc, "[\"\xC3\xA9t\xC3\xA9\"]") == "1:9");
}

TEST_CASE("line index agrees with counting character by character", "[filters]") {
  // LineIndex counts characters eight bytes at a time and finds line ends with memchr: compare
  // every offset with the plain definition, over block edges, multi-byte characters and all three
  // line ends (a "\r\n" split by a block edge included).
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += "ab\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    text += i % 3 == 0 ? "\r\n" : i % 3 == 1 ? "\r" : "\n";
    text += std::string(static_cast<std::size_t>(i % 7), 'x');
  }
  text += "\r";
  const LineIndex index(text);
  int line = 1, col = 1;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    INFO("offset " << i);
    const bool continuation = i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
    if (!continuation) CHECK(at(index.at(i)) == at(Position{line, col}));
    if (i == text.size()) break;
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) {
      ++line;
      col = 1;
    } else if (!continuation) {
      ++col;
    }
  }
}

TEST_CASE("syntax errors point at the offending character", "[filters]") {
  CHECK(syntax_error("{\"a\": 1,\n \"b\": x}") ==
        "2:7 |syntax error while parsing value - invalid literal");
  CHECK(syntax_error("{\"a\": 1,\n}") ==
        "2:1 |syntax error while parsing object key - unexpected '}'; expected string literal");
  CHECK(syntax_error("") ==
        "1:1 |syntax error while parsing value - unexpected end of input; expected '[', '{', or "
        "a literal");
  CHECK(syntax_error("[1] 2") ==
        "1:5 |syntax error while parsing value - unexpected number literal; expected end of "
        "input");
  // A whole token the parser did not expect: point at its start, not its end.
  CHECK(syntax_error("{\"a\" \"bcd\"}") ==
        "1:6 |syntax error while parsing object separator - unexpected string literal; "
        "expected ':'");
  CHECK(syntax_error("[1 22]") ==
        "1:4 |syntax error while parsing array - unexpected number literal; expected ']'");
  CHECK(syntax_error("[1 false]") ==
        "1:4 |syntax error while parsing array - unexpected false literal; expected ']'");
  CHECK(syntax_error("[1e999]") == "1:6 |number overflow parsing '1e999'");
  CHECK(syntax_error("[\"ab\ncd\"]") ==
        "1:5 |syntax error while parsing value - invalid string: control character U+000A (LF) "
        "must be escaped to \\u000A or \\n");
}

TEST_CASE("syntax error positions agree with nlohmann's own line and column", "[filters]") {
  // For LF-only ASCII text our count and nlohmann's must be the same.
  const std::string texts[] = {"{\n\"a\": [1, 2,, 3]}", "{\"a\"\n  \n   :: 1}", "[\"abc",
                               "{\"a\": tru}", "\n\n   [1 2]"};
  for (const std::string& text : texts) {
    INFO(text);
    std::string theirs;
    try {
      const nlohmann::json parsed = nlohmann::json::parse(text);
      FAIL("nlohmann accepted it: " << parsed.dump());
    } catch (const nlohmann::json::parse_error& e) {
      theirs = e.what();
    }
    const std::string ours = syntax_error(text);
    const auto space = ours.find(' ');
    const auto colon = ours.find(':');
    const std::string want = "at line " + ours.substr(0, colon) + ", column " +
                             ours.substr(colon + 1, space - colon - 1) + ":";
    CHECK_THAT(theirs, Catch::Contains(want));
  }
}

TEST_CASE("a key given twice in one object is an error at the second", "[filters]") {
  CHECK(syntax_error("{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": 2}}") ==
        "2:16 b.c|duplicate key \"c\" (first at 2:8)");
  CHECK(syntax_error("[{\"a\": 1}, {\"a\": 2}]") == "no error");
}

TEST_CASE("member paths quote keys that would be ambiguous", "[filters]") {
  CHECK(member_path("", "rules") == "rules");
  CHECK(member_path("rules[0]", "do") == "rules[0].do");
  CHECK(member_path("rules[0]", "a.b") == "rules[0][\"a.b\"]");
  CHECK(member_path("x", "") == "x[\"\"]");
  CHECK(member_path("", "sp ace") == "[\"sp ace\"]");
  CHECK(element_path("rules", 3) == "rules[3]");
}

// The fast parser must build exactly what the full one builds, whenever it does not give up.
void check_same_parse(std::string_view text) {
  INFO("text: " << std::string(text.substr(0, 200)));
  const auto fast = detail::parse_common_json(text, kMaxDepth);
  if (!fast) return;
  const PositionedJson full = detail::parse_full_json(text, kMaxDepth);
  CHECK(fast->value == full.value);
  CHECK(fast->value.dump() == full.value.dump());   // == takes 1 for 1.0; the types must agree too
  REQUIRE(fast->nodes.size() == full.nodes.size());
  for (std::size_t i = 0; i < full.nodes.size(); ++i) {
    const auto &a = fast->nodes[i], &b = full.nodes[i];
    INFO("node " << i);
    CHECK(a.value == b.value);
    CHECK(a.key == b.key);
    CHECK(a.parent == b.parent);
    CHECK(fast->key_of(a) == full.key_of(b));
    CHECK(a.child_first == b.child_first);
    CHECK(a.child_count == b.child_count);
  }
  CHECK(fast->children == full.children);
}

std::vector<std::string> files_under(const std::filesystem::path& dir) {
  std::vector<std::string> texts;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    texts.push_back(text.str());
  }
  return texts;
}

TEST_CASE("the fast parser takes common rule files and builds what the full parser builds",
          "[filters]") {
  const std::filesystem::path root(SOURCE_ROOT);
  std::size_t taken = 0, files = 0;
  for (const char* dir : {"docs/examples", "tests/bench", "tests/filters/bad", "tests/fuzz/filters/corpus"}) {
    for (const std::string& text : files_under(root / dir)) {
      ++files;
      const bool fast = detail::parse_common_json(text, kMaxDepth).has_value();
      taken += fast;
      // The shipped profiles and the benchmarks' files must not need the full parser, unless they
      // hold a number with a fraction or an exponent (the full parser's to convert).
      static const std::regex kFloat(R"([0-9]\.[0-9]|[0-9][eE][-+]?[0-9])");
      if ((std::string_view(dir) == "docs/examples" || std::string_view(dir) == "tests/bench") &&
          !std::regex_search(text, kFloat))
        CHECK(fast);
      check_same_parse(text);
    }
  }
  INFO(taken << " of " << files << " files parsed by the fast parser");
  CHECK(taken * 2 > files);
  CHECK(detail::parse_common_json(R"({"rules": [{"name": "a", "on": "connect", "match": {"port": 80}, "do": {"fail": "EIO"}}]})",
                                  kMaxDepth));
}

TEST_CASE("the fast parser gives up on whatever is outside its subset", "[filters]") {
  const std::string deep = std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']');
  const std::string deeper = std::string(kMaxDepth + 1, '[') + std::string(kMaxDepth + 1, ']');
  CHECK(detail::parse_common_json(deep, kMaxDepth));
  // Each of these is either not JSON, or JSON whose conversion or message is nlohmann's to make.
  for (const std::string& text :
       {deeper, std::string(""), std::string("  "), std::string("01"), std::string("-01"),
        std::string("1."), std::string(".5"), std::string("1e"), std::string("1e+"), std::string("-"),
        std::string("+1"), std::string("1e400"), std::string("-1e400"), std::string("12345678901234567890"),
        std::string("-1234567890123456789"), std::string("--1"), std::string("1.5.5"),
        std::string("tru"), std::string("truex"), std::string("nul"), std::string("[1,]"),
        std::string("[1 2]"), std::string("{\"a\":1,}"), std::string("{\"a\":1 \"b\":2}"),
        std::string("{\"a\" 1}"), std::string("{\"a\":1,\"a\":2}"), std::string("{} x"),
        std::string("\xEF\xBB\xBF{}"), std::string("{\"a\\\"b\":1}"), std::string("[\"\x7f\"]"),
        std::string("[\"a\tb\"]"), std::string("[\"\xC3\xA9\"]"), std::string("[\"abc"),
        std::string("[1"), std::string("{"), std::string(":"), std::string("[]]"), std::string("{1:2}"),
        std::string(1, '\0'), std::string("[0x1]"),
        // Fractions and exponents: converted by the full parser (see CommonJsonParser::number).
        std::string("[0.5]"), std::string("-0.0"), std::string("1e5"), std::string("[1E+5]"),
        std::string("2.5e-3"), std::string("1.7976931348623157e308")}) {
    INFO("text: " << text);
    CHECK_FALSE(detail::parse_common_json(text, kMaxDepth));
  }
  // What it takes, it reads as nlohmann does.
  for (const std::string& text :
       {std::string("0"), std::string(" 9999999999999999999 "), std::string("[0,10,true,false,null]"),
        std::string("[-0, -1, -123456789012345678]"),
        std::string("\t{\r\n\"\": {}, \"a b\": [[]], \"x\":\"y z ~\"}\n"), deep,
        std::string("{\"b\":1,\"a\":{\"d\":[1,{\"c\":2}],\"c\":3}}")}) {
    INFO("text: " << text);
    CHECK(detail::parse_common_json(text, kMaxDepth));
    check_same_parse(text);
  }
}

}  // namespace
}  // namespace filters
