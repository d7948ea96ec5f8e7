// Every file in tests/filters/bad/ is refused with exactly the message in its .expect sidecar:
// FILE:LINE:COL: KEY: message. One mistake per file, so each message is checked on its own.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "filters/table.h"
#include "tests/catch.h"
#include "tests/filters/expressions.h"

namespace filters {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> bad_files() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(FILTERS_TEST_DIR) / "bad"))
    if (e.path().extension() == ".json") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("every bad file gives its expected message", "[filters][bad]") {
  test::register_expression_compiler();
  const auto files = bad_files();
  CHECK(files.size() >= 30);
  for (const fs::path& json : files) {
    fs::path expect = json;
    expect.replace_extension(".expect");
    INFO("file " << json.filename().string());
    REQUIRE(fs::exists(expect));
    std::string want = read_all(expect);
    while (!want.empty() && want.back() == '\n') want.pop_back();
    std::string got = "no error";
    try {
      load_table_text(read_all(json), json.filename().string());
    } catch (const LoadError& e) {
      got = e.what();
      // The parts agree with the text: the key is named right after the position.
      CHECK(e.file() == json.filename().string());
      CHECK(e.line() > 0);
      CHECK(e.col() > 0);
    }
    CHECK(got == want);
  }
}

TEST_CASE("every .expect has its .json", "[filters][bad]") {
  for (const auto& e : fs::directory_iterator(fs::path(FILTERS_TEST_DIR) / "bad")) {
    if (e.path().extension() != ".expect") continue;
    fs::path json = e.path();
    json.replace_extension(".json");
    INFO("file " << e.path().filename().string());
    CHECK(fs::exists(json));
  }
}

}  // namespace
}  // namespace filters
