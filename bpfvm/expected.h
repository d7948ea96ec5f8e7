// A value or an error, for a C++20 without std::expected. Header-only and includes nothing of
// ours, so any module may share it; trivially copyable when both T and E are.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace bpfvm {

template <class E>
struct Unexpected {
  E error;
};

template <class E>
Unexpected<E> unexpected(E e) {
  return Unexpected<E>{std::move(e)};
}

template <class T, class E>
class Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Expected(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  // Preconditions: has_value() for value(), !has_value() for error().
  T& value() { assert(has_value()); return std::get<0>(v_); }
  const T& value() const { assert(has_value()); return std::get<0>(v_); }
  const E& error() const { assert(!has_value()); return std::get<1>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, E> v_;
};

}  // namespace bpfvm
