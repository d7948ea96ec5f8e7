// libsockshim-rules.so: the rule-file side of the preload object (shim/rules_abi.h). Exceptions
// end here: every error becomes the message the command would print for the same file.
#include <cstdlib>
#include <cstring>
#include <exception>
#include <span>
#include <string>

#include "filters/table.h"
#include "shim/rules_abi.h"

namespace {

int fail(sockshim_rules_result* r, const char* what) noexcept {
  std::size_t n = std::strlen(what);
  if (n >= sizeof r->error) n = sizeof r->error - 1;
  std::memcpy(r->error, what, n);
  r->error[n] = '\0';
  return -1;
}

// A malloc'd copy (the preload object frees it with libc's free), with room for a NUL.
void* copy_out(const void* p, std::size_t n, std::size_t align) noexcept {
  const std::size_t size = (n + 1 + align - 1) / align * align;
  void* out = std::aligned_alloc(align, size);
  if (!out) return nullptr;
  std::memcpy(out, p, n);
  static_cast<char*>(out)[n] = '\0';
  return out;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) unsigned sockshim_rules_abi(void) { return kSockshimRulesAbi; }

__attribute__((visibility("default"))) int sockshim_rules_read(const char* path, sockshim_rules_result* r) {
  try {
    const std::string text = filters::read_rule_file(path, filters::FileKinds::kRegularOnly);
    r->text = static_cast<char*>(copy_out(text.data(), text.size(), alignof(std::max_align_t)));
    if (!r->text) return fail(r, "out of memory reading the rule file");
    r->text_len = text.size();
    return 0;
  } catch (const std::exception& e) {
    return fail(r, e.what());
  }
}

__attribute__((visibility("default"))) int sockshim_rules_compile(const char* text, std::size_t len, const char* file,
                                                                  sockshim_rules_result* r) {
  try {
    const filters::Table table = filters::load_table_text(std::string_view(text, len), file ? file : "");
    const std::span<const std::byte> image = table.image();
    // 64: a cache line, more than any alignment the image asks for.
    r->image = copy_out(image.data(), image.size(), 64);
    if (!r->image) return fail(r, "out of memory compiling the rule file");
    r->image_len = image.size();
    return 0;
  } catch (const std::exception& e) {
    return fail(r, e.what());
  }
}

}  // extern "C"
