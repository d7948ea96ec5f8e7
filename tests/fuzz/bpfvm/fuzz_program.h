// The fuzz targets' program encoding: n instructions of 8 bytes each (code, jt, jf, k, as
// struct sock_filter lays them out, little-endian), read from `at`, which moves past them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "bpfvm/program.h"

namespace bpfvm::fuzz {

inline Program program_from(const std::uint8_t*& at, std::size_t n) {
  Program p;
  for (std::size_t i = 0; i < n; ++i, at += 8) {
    Instruction in;
    std::memcpy(&in.code, at, 2);
    in.jt = at[2];
    in.jf = at[3];
    std::memcpy(&in.k, at + 4, 4);
    p.push_back(in);
  }
  return p;
}

}  // namespace bpfvm::fuzz
