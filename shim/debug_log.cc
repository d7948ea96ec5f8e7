#include "shim/debug_log.h"

#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "shim/real.h"
#include "shim/text_buf.h"

namespace shim::debug {
namespace {

// A line with its newline, written in one write(2) so lines of several processes never mix.
template <std::size_t N>
void emit(TextBuf<N>& b) noexcept {
  b.newline();
  const int saved = errno;
  real::write(2, b.c_str(), b.size());
  errno = saved;
}

}  // namespace

void fault(const char* rule, const char* call, int fd, int err) noexcept {
  TextBuf<256> b;
  b.s("sockshim[").i(getpid()).s("]: rule ").s(rule).s(" fired on ").s(call).s(" fd=").i(fd).s(" errno=").i(err);
  emit(b);
}

void line(const char* text) noexcept {
  TextBuf<1024> b;   // init-time messages name files and keys: room for long paths
  b.s("sockshim: ").s(text);
  emit(b);
}

}  // namespace shim::debug
