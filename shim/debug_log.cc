#include "shim/debug_log.h"

#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "shim/real.h"

namespace shim::debug {
namespace {

class Buf {
 public:
  Buf& s(const char* p) noexcept {
    while (p && *p && n_ < sizeof b_ - 1) b_[n_++] = *p++;
    return *this;
  }
  Buf& i(long v) noexcept {
    char t[24];
    int k = 0;
    const bool neg = v < 0;
    unsigned long u = neg ? 0ul - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do t[k++] = static_cast<char>('0' + u % 10); while ((u /= 10) && k < 23);
    if (neg) t[k++] = '-';
    while (k && n_ < sizeof b_ - 1) b_[n_++] = t[--k];
    return *this;
  }
  void emit() noexcept {
    b_[n_++] = '\n';
    const int saved = errno;
    real::write(2, b_, n_);
    errno = saved;
  }

 private:
  char b_[256];
  std::size_t n_ = 0;
};

}  // namespace

void fault(const char* rule, const char* call, int fd, int err) noexcept {
  Buf().s("sockshim[").i(getpid()).s("]: rule ").s(rule).s(" fired on ").s(call).s(" fd=").i(fd)
      .s(" errno=").i(err).emit();
}

void line(const char* text) noexcept { Buf().s("sockshim: ").s(text).emit(); }

}  // namespace shim::debug
