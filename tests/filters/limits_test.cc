// The rule file's limits (docs/filters.md, "Limits"): size, nesting, rules, name length, each
// refused with a LoadError that names the limit; and positions computed in linear time, which a
// count of the bytes LineIndex reads shows without timing anything.
#include <string>

#include "filters/json_positions.h"
#include "filters/table.h"
#include "tests/catch.h"
#include "tests/filters/bounded_run.h"

namespace filters {
namespace {

static_assert(kMaxFileBytes == 1048576);
static_assert(kMaxDepth == 32);
static_assert(kMaxRules == 1024);
static_assert(kMaxRuleName == 63);

std::string load_error(const std::string& text, const std::string& file = "r.json") {
  try {
    load_table_text(text, file);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "no error";
}

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// `count` rules on one line, each with a glob of about glob_bytes bytes (two-byte characters) and
// `spaces` blanks in front: globs are at most kMaxGlob bytes, so blanks make up the size.
std::string one_line_rules(std::size_t count, std::size_t glob_bytes, std::size_t spaces = 0) {
  std::string text = R"({"seed": 1, "rules": [)";
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) text += ", ";
    text += std::string(spaces, ' ');
    const std::string glob = "/run/" + repeat("\xC3\xA9", glob_bytes / 2 - 4) + "*";
    text += R"({"name": "rule-)" + std::to_string(i) + R"(", "on": ["connect", "send", "recv"], )"
            R"("match": {"family": "unix", "path": ")" + glob + R"("}, )"
            R"("when": {"nth": 2, "probability": 0.5}, "do": {"fail": "ECONNREFUSED"}})";
  }
  return text + "]}";
}

TEST_CASE("a 100 000-deep file is refused at the first bracket past 32, in bounded memory",
          "[filters][limits]") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string want =
      "deep.json:1:33: " + repeat("[0]", 32) +
      ": nested too deeply: at most 32 arrays and objects may be inside one another";
  CHECK(test::load_error_bounded([&] { load_table_text(deep, "deep.json"); }) == want);

  // Objects too, inside a rule, on a later line: the key names where it is.
  std::string rule = "{\"rules\": [\n {\"name\": \"x\", \"on\": \"send\", \"match\": ";
  for (int i = 0; i < 40; ++i) rule += "{\"a\": ";
  CHECK(load_error(rule) == "r.json:2:" + std::to_string(39 + 6 * 29) + ": rules[0].match" +
                                repeat(".a", 29) + ": nested too deeply: at most 32 arrays and "
                                                   "objects may be inside one another");
}

TEST_CASE("a long key above many values costs memory linear in the file", "[filters][limits]") {
  // Positions kept by full path stored the 200 KB key once per element: 80 000 times (16 GB).
  const std::string key(200000, 'k');
  const std::string text = R"({"rules": [], ")" + key + R"(": [)" + repeat("0,", 79999) + "0]}";
  REQUIRE(text.size() <= kMaxFileBytes);
  const std::string error = test::load_error_bounded([&] { load_table_text(text, "r.json"); });
  CHECK(error.substr(0, 13 + key.size()) == "r.json:1:15: " + key);
  CHECK(error.size() < 2 * key.size() + 200);

  const PositionedJson doc = parse_json_with_positions(text);
  const std::string last = "[\"" + key + "\"][79999]";
  CHECK(doc.value_at(last).col == static_cast<int>(text.size() - 2));
  CHECK(doc.key_at("[\"" + key + "\"]").col == 15);
  CHECK_FALSE(doc.has_value("[\"" + key + "\"][80000]"));
}

TEST_CASE("nesting up to the limit parses", "[filters][limits]") {
  const PositionedJson doc = parse_json_with_positions(std::string(32, '[') + std::string(32, ']'));
  CHECK(doc.has_value(repeat("[0]", 31)));
  CHECK_FALSE(doc.has_value(repeat("[0]", 32)));
}

TEST_CASE("a valid 1 MB one-line rule file loads, with position work linear in its size",
          "[filters][limits]") {
  // Blanks in front of each rule make the file just under 1 MiB whatever kMaxRules is.
  const std::size_t bare = one_line_rules(kMaxRules, 248).size();
  const std::string text = one_line_rules(kMaxRules, 248, (kMaxFileBytes - 2048 - bare) / kMaxRules);
  REQUIRE(text.size() > 1000000);
  REQUIRE(text.size() <= kMaxFileBytes);
  REQUIRE(text.find('\n') == std::string::npos);
  const Table t = load_table_text(text, "big.json");
  REQUIRE(t.rules().size() == kMaxRules);
  CHECK(t.rules().back().name == "rule-" + std::to_string(kMaxRules - 1));
  // Columns count characters: the last rule starts far less than its byte offset into the line.
  CHECK(t.rules().back().pos.line == 1);
  CHECK(t.rules().back().pos.col ==
        static_cast<int>(text.rfind("{\"name\"") - (kMaxRules - 1) * (248 / 2 - 4) + 1));
  // Counting from the line's start for every value read the line once per value: hundreds of
  // times its size here. Now each position costs at most two 64-byte blocks, and only positions
  // somebody asks for are worked out.
  // Every rule's position asked for, as the loader does for error messages and Rule::pos.
  const PositionedJson doc = parse_json_with_positions(text);
  for (std::size_t i = 0; i < kMaxRules; ++i) CHECK(doc.value_at(element_path("rules", i)).line == 1);
  CHECK(doc.position_bytes_scanned() <= 2 * text.size());
}

TEST_CASE("position work grows linearly with a one-line document full of values",
          "[filters][limits]") {
  // Half a million values on one line: twice the text, at most twice the work (plus a little).
  const auto work = [](std::size_t values) {
    const std::string text = "[" + repeat("0,", values - 1) + "0]";
    const PositionedJson doc = parse_json_with_positions(text);
    for (std::size_t i = 0; i < values; ++i) (void)doc.value_at(element_path("", i));   // every one
    return doc.position_bytes_scanned();
  };
  const std::size_t small = work(250000), big = work(500000);
  INFO("work for 250 000 values: " << small << ", for 500 000: " << big);
  CHECK(big <= 2 * small + 1024);
  CHECK(big <= 130 * 1000001);   // at most the text plus two blocks per value
}

TEST_CASE("a file over 1 MiB is refused with its size and the limit", "[filters][limits]") {
  const std::string head = R"({"rules": [], "$schema": ")";
  const std::string at_limit = head + std::string(kMaxFileBytes - head.size() - 2, 'x') + "\"}";
  REQUIRE(at_limit.size() == kMaxFileBytes);
  CHECK(load_error(at_limit) == "no error");
  const std::string over = head + std::string(kMaxFileBytes - head.size() - 1, 'x') + "\"}";
  CHECK(load_error(over, "big.json") ==
        "big.json: too big: 1048577 bytes, the limit is 1048576 bytes (1 MiB)");
}

TEST_CASE("at most 1024 rules; the first one past them is named", "[filters][limits]") {
  const auto rules = [](std::size_t n) {
    std::string text = "{\"rules\": [";
    for (std::size_t i = 0; i < n; ++i) {
      text += (i ? ",\n" : "\n") + std::string(R"( {"name": "r)") + std::to_string(i) +
              R"(", "on": "send", "do": {"eintr": true}})";
    }
    return text + "]}";
  };
  CHECK(load_table_text(rules(1024), "r.json").rules().size() == 1024u);
  CHECK(load_error(rules(1100)) ==
        "r.json:1026:2: rules[1024]: too many rules: 1100 (at most 1024, one per slot of the stats "
        "segment)");
}

TEST_CASE("rule names are at most 63 bytes", "[filters][limits]") {
  const auto named = [](const std::string& name) {
    return "{\"rules\": [{\"name\": \"" + name + R"(", "on": "send", "do": {"eintr": true}}]})";
  };
  const Table t = load_table_text(named(std::string(63, 'n')), "r.json");
  CHECK(t.rules()[0].name.size() == 63u);
  CHECK(load_error(named(std::string(64, 'n'))) ==
        "r.json:1:21: rules[0].name: too long: 64 bytes (at most 63 bytes of UTF-8)");
  // Bytes, not characters: 32 two-byte characters are 64 bytes, too many to keep whole.
  CHECK(load_error(named(repeat("\xC3\xA9", 32))) ==
        "r.json:1:21: rules[0].name: too long: 64 bytes (at most 63 bytes of UTF-8)");
  CHECK(load_table_text(named(repeat("\xC3\xA9", 31) + "x"), "r.json").rules().size() == 1u);
}

}  // namespace
}  // namespace filters
