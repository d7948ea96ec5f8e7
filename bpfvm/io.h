// Inputs shared by the `bpfvm` command and the tests: hex packets, the ancillary context as
// JSON (keys: the SKF_AD_* names in lower case), and one line of the `batch` protocol.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bpfvm/context.h"
#include "bpfvm/expected.h"

namespace bpfvm {

// Hex digits, whitespace ignored, an even count. Error: a message for people.
Expected<std::vector<std::uint8_t>, std::string> parse_hex(std::string_view hex);
Expected<Ancillaries, std::string> ancillaries_from_json(const nlohmann::json& j);

// One `batch` line in, one JSON object out (no newline). Never throws:
//   {"prog": [[c,jt,jf,k]...], "packet": "hex", "net"?, "ll"?, "ctx"?}
//   → {"valid": true, "ret": N} | {"valid": false, "error": "reason", "index": N} | {"error": "..."}
std::string batch_line(std::string_view line);

}  // namespace bpfvm
