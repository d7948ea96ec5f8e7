// Text put together in a fixed buffer: for messages the preload object writes (debug lines, the
// constructor's refusals). No allocation, no stdio, no libstdc++, so it works inside a wrapped
// call and before the program's main. Text past the buffer is cut, never written beyond it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shim {

template <std::size_t N>
class TextBuf {
 public:
  TextBuf& s(std::string_view p) noexcept {
    for (const char c : p) {
      if (n_ >= N - 1) break;
      b_[n_++] = c;
    }
    b_[n_] = '\0';
    return *this;
  }
  TextBuf& s(const char* p) noexcept { return s(std::string_view(p ? p : "")); }
  TextBuf& i(long v) noexcept {
    const bool neg = v < 0;
    if (neg) s("-");
    return u(neg ? 0ul - static_cast<unsigned long>(v) : static_cast<unsigned long>(v));
  }
  TextBuf& u(std::uint64_t v) noexcept {
    char t[24];
    int k = 0;
    do t[k++] = static_cast<char>('0' + v % 10); while ((v /= 10) && k < 23);
    while (k && n_ < N - 1) b_[n_++] = t[--k];
    b_[n_] = '\0';
    return *this;
  }
  // Ends the text with a newline, over its last character when it was cut (a line always ends).
  TextBuf& newline() noexcept {
    static_assert(N >= 2);
    if (n_ > N - 2) n_ = N - 2;
    b_[n_++] = '\n';
    b_[n_] = '\0';
    return *this;
  }
  // "\"TEXT\"": values quoted in messages, as the command quotes them.
  TextBuf& q(const char* p) noexcept { return s("\"").s(p).s("\""); }
  TextBuf& clear() noexcept {
    n_ = 0;
    b_[0] = '\0';
    return *this;
  }
  const char* c_str() const noexcept { return b_; }
  std::size_t size() const noexcept { return n_; }

 private:
  char b_[N] = {};
  std::size_t n_ = 0;
};

}  // namespace shim
