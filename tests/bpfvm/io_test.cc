// The batch protocol: one answer per line, errors as {"error": ...}, never a crash.
#include <catch2/catch.hpp>

#include "bpfvm/io.h"

TEST_CASE("batch answers valid programs with ret, refused ones with reason and index", "[io][batch]") {
  CHECK(bpfvm::batch_line(R"({"prog": [[40,0,0,12], [22,0,0,0]], "packet": "000000000000000000000000 0800"})") ==
        R"({"valid":true,"ret":2048})");
  CHECK(bpfvm::batch_line(R"({"prog": [[40,0,0,12], [6,0,0,65535], [96,0,0,0], [6,0,0,0]], "packet": ""})") ==
        R"({"valid":false,"error":"scratch read before write","index":2})");
  CHECK(bpfvm::batch_line(R"({"prog": [[48,0,0,4293918729], [22,0,0,0]], "packet": "", "net": "4500002100004000401100007f0000017f000001"})") ==
        R"({"valid":true,"ret":17})");
  CHECK(bpfvm::batch_line(R"({"prog": [[40,0,0,4292870156], [22,0,0,0]], "ll": "0000000000000000000000000800"})") ==
        R"({"valid":true,"ret":2048})");
  CHECK(bpfvm::batch_line(R"({"prog": [[32,0,0,4294963200], [22,0,0,0]], "packet": "", "ctx": {"protocol": 34525}})") ==
        R"({"valid":true,"ret":34525})");
}

TEST_CASE("batch reports bad input on its line", "[io][batch]") {
  const char* bad[] = {
      "not json",
      "[1, 2]",
      R"({"packet": "00"})",
      R"({"prog": [[40,0,0]], "packet": "00"})",
      R"({"prog": [[40,0,0,"12"]], "packet": "00"})",
      R"({"prog": [[40,0,0,4294967296]], "packet": "00"})",
      R"({"prog": [[6,0,0,0]], "packet": "0g"})",
      R"({"prog": [[6,0,0,0]], "packet": "000"})",
      R"({"prog": [[6,0,0,0]], "packet": 12})",
      R"({"prog": [[6,0,0,0]], "ctx": {"colour": 1}})",
      R"({"prog": [[6,0,0,0]], "ctx": {"mark": -1}})",
      R"({"prog": 5})",
      "",
  };
  for (const char* line : bad) {
    INFO(line);
    const std::string out = bpfvm::batch_line(line);
    CHECK(out.rfind(R"({"error":)", 0) == 0);
  }
}

TEST_CASE("hex accepts spaces and either case", "[io]") {
  auto b = bpfvm::parse_hex("aB 0c\n0D");
  REQUIRE(b.has_value());
  CHECK(*b == std::vector<std::uint8_t>{0xab, 0x0c, 0x0d});
}
