// Every rule file the project ships loads: the profiles in docs/examples/ (people copy them) and
// the rule files tests use (any *rules*.json under tests/, but not tests/filters/bad/). A profile
// that stops loading fails here rather than in a user's CI.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "filters/table.h"
#include "tests/catch.h"

namespace filters {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> shipped_rule_files() {
  const fs::path root(SOURCE_ROOT);
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(root / "docs" / "examples"))
    if (e.path().extension() == ".json") out.push_back(e.path());
  for (const auto& e : fs::recursive_directory_iterator(root / "tests")) {
    const fs::path& p = e.path();
    if (p.extension() != ".json" || p.filename().string().find("rules") == std::string::npos) continue;
    if (p.parent_path().filename() == "bad") continue;
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("every shipped rule file loads", "[filters][examples]") {
  const auto files = shipped_rule_files();
  for (const fs::path& p : files) {
    INFO("file " << p.string());
    std::string error;
    try {
      const Table t = load_table_file(p.string());
      CHECK_FALSE(t.rules().empty());
      CHECK_FALSE(describe(t).empty());
    } catch (const LoadError& e) {
      error = e.what();
    }
    CHECK(error == "");
  }
}

TEST_CASE("the documented profiles are all there", "[filters][examples]") {
  const fs::path dir = fs::path(SOURCE_ROOT) / "docs" / "examples";
  for (const char* name : {"refuse-connect.json", "flaky-network.json", "slow-dns.json",
                           "connection-resets.json", "accept-emfile.json", "partition-db.json"}) {
    INFO("profile " << name);
    CHECK(fs::exists(dir / name));
  }
}

}  // namespace
}  // namespace filters
