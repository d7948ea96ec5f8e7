// Helpers shared by the netstack tests: hex bytes, golden files, byte comparisons.
#pragma once

#include <cstddef>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "netstack/buffer/packet_buffer.h"

namespace netstack::test {

using Bytes = std::vector<std::byte>;

// "45 00 0a" or "45000a" -> bytes; '#' starts a comment that runs to the end of the line.
inline Bytes hex(std::string_view text) {
  Bytes out;
  int nibble = -1;
  bool comment = false;
  for (char c : text) {
    if (c == '\n') comment = false;
    if (comment || c == '#') {
      comment = true;
      continue;
    }
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<std::byte>(nibble << 4 | v));
      nibble = -1;
    }
  }
  if (nibble >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

// tests/netstack/data/<name>.hex
inline Bytes golden(const std::string& name) {
  const std::string path = std::string(NETSTACK_TEST_DATA) + "/" + name + ".hex";
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return hex(ss.str());
}

inline Bytes bytes_of(std::string_view s) {
  Bytes out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
  return out;
}

inline Bytes copy(ByteView v) { return Bytes(v.begin(), v.end()); }

inline std::string to_hex(ByteView v) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::byte b : v) {
    if (!s.empty()) s += ' ';
    s += d[static_cast<unsigned>(b) >> 4];
    s += d[static_cast<unsigned>(b) & 0xf];
  }
  return s;
}

}  // namespace netstack::test
