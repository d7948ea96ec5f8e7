// The error every refused rule file is reported with (filters/table.h).
#include <string>
#include <utility>

#include "filters/table.h"

namespace filters {
namespace {

std::string format_load_error(const std::string& file, int line, int col, const std::string& key,
                              const std::string& message) {
  // Line 0 means "no position" (the file could not be read): "FILE: message" then, so the text
  // never shows a made-up 0:0 that an editor would jump to.
  std::string out = file;
  if (line > 0) out += ':' + std::to_string(line) + ':' + std::to_string(col);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

}  // namespace

LoadError::LoadError(std::string file, int line, int col, std::string key, std::string message)
    : std::runtime_error(format_load_error(file, line, col, key, message)),
      file_(std::move(file)),
      key_(std::move(key)),
      message_(std::move(message)),
      line_(line),
      col_(col) {}


}  // namespace filters
