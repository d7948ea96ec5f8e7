// A string of at most N bytes stored inline. Rules hold their names and globs in these, so a Rule
// is trivially copyable: a compiled table is one block of bytes that the stats segment carries
// and every process of a run matches with in place (filters/table_image.h), without parsing.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace filters {

template <std::size_t N>
struct FixedString {
  static_assert(N > 0 && N < 65535);
  static constexpr std::size_t kCapacity = N;

  FixedString() = default;
  template <class S>
    requires std::convertible_to<const S&, std::string_view>
  FixedString(const S& s) {   // NOLINT: implicit, as std::string's own conversions
    assign(std::string_view(s));
  }
  template <class S>
    requires std::convertible_to<const S&, std::string_view>
  FixedString& operator=(const S& s) {
    assign(std::string_view(s));
    return *this;
  }

  // Longer than N: std::length_error (the loader refuses such text with its own message first).
  void assign(std::string_view s) {
    if (s.size() > N) throw std::length_error("filters::FixedString: " + std::to_string(s.size()) + " bytes, at most " + std::to_string(N));
    std::memcpy(text_, s.data(), s.size());
    std::memset(text_ + s.size(), 0, N + 1 - s.size());
    len_ = static_cast<std::uint16_t>(s.size());
  }

  // Clamped to N: a damaged copy (a stats segment any process of the run can write) never reads
  // past the array.
  std::size_t size() const noexcept { return len_ <= N ? len_ : N; }
  bool empty() const noexcept { return size() == 0; }
  std::string_view view() const noexcept { return {text_, size()}; }
  operator std::string_view() const noexcept { return view(); }   // NOLINT: implicit on purpose
  const char* c_str() const noexcept { return text_; }            // NUL-terminated when made by assign()
  std::string str() const { return std::string(view()); }

  friend bool operator==(const FixedString& a, std::string_view b) noexcept { return a.view() == b; }

 private:
  char text_[N + 1] = {};
  std::uint16_t len_ = 0;
};

}  // namespace filters
