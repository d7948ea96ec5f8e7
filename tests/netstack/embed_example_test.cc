// The embedding example of docs/netstack.md: it runs, and the doc shows this very file.
#include <fstream>
#include <sstream>
#include <string>

#include "tests/catch.h"

std::string embed_example();

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("the embedding example delivers its datagram", "[docs]") { CHECK(embed_example() == "hello"); }

TEST_CASE("docs/netstack.md shows tests/netstack/embed_example.cc verbatim", "[docs]") {
  const std::string example = slurp(NETSTACK_SOURCE_ROOT "/tests/netstack/embed_example.cc");
  const std::string doc = slurp(NETSTACK_SOURCE_ROOT "/docs/netstack.md");
  REQUIRE_FALSE(example.empty());
  CHECK(doc.find("```cpp\n" + example + "```") != std::string::npos);
}
