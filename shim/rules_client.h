// The preload object's way to rule tables: a view of a compiled image in place (a run's segment),
// or, when a process must parse a rule file itself, the rule loader (shim/rules_abi.h) opened on
// first use. Constructor-time only (it may open an object and allocate); never on a wrapped call.
#pragma once

#include <cstddef>
#include <string_view>

#include "filters/table.h"
#include "shim/text_buf.h"

namespace shim::rules {

using Error = TextBuf<1024>;

// A rule file's text as read by the loader; malloc'd, kept until the process ends (a segment
// created from it copies it; comparing with a segment's needs it once).
struct Text {
  const char* data = "";
  std::size_t len = 0;
  std::string_view view() const noexcept { return {data, len}; }
};

// Reads the rule file at path (regular files only). False with the reason in err.
bool read(const char* path, Text& out, Error& err) noexcept;
// Parses and compiles text (file names it in messages) with the loader. Null with the reason in
// err. The table lives until the process ends.
const filters::Table* compile(std::string_view text, const char* file, Error& err) noexcept;
// A table over an image that lives until the process ends (the segment's). Null with the reason
// (a static string) in *why.
const filters::Table* view(const void* image, std::size_t len, const char** why) noexcept;

}  // namespace shim::rules
