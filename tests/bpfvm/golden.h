// Reads tests/golden/bpfvm/*.txt (format in STYLE.md §8): "-- prog" (code jt jf k a line),
// "-- packet"/"-- net"/"-- ll" (hex), "-- ctx" (JSON), then "-- expect" N or
// "-- reject <reason> @ <index>". Lines starting with '#' are comments.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bpfvm/context.h"
#include "bpfvm/program.h"

namespace bpfvm::testing {

struct GoldenCase {
  std::string name;
  Program prog;
  std::vector<std::uint8_t> packet;
  std::optional<std::vector<std::uint8_t>> net, ll;
  Ancillaries anc;
  bool has_ctx = false;
  std::optional<std::uint32_t> expect;
  std::optional<std::string> reject_reason;
  std::uint32_t reject_index = 0;

  Context context() const;
};

// Throws std::runtime_error naming the file and line on malformed input.
GoldenCase load_golden(const std::filesystem::path& file);
std::vector<GoldenCase> load_all_golden();  // sorted by name, from BPFVM_GOLDEN_DIR

}  // namespace bpfvm::testing
