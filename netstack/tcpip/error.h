// The netstack error space, modelled on gVisor's tcpip.Error: plain enumerators, no strings, no
// allocation. to_errno() (stack/errno_map.cc) is the only mapping to errno values.
#pragma once

#include <cassert>
#include <cstdint>
#include <utility>
#include <variant>

namespace netstack {

enum class Errc : std::uint8_t {
  kUnknownProtocol,
  kUnknownNicId,
  kUnknownProtocolOption,
  kDuplicateNicId,
  kDuplicateAddress,
  kNoRoute,
  kBadLinkEndpoint,
  kAlreadyBound,
  kInvalidEndpointState,
  kAlreadyConnecting,
  kAlreadyConnected,
  kNoPortAvailable,
  kPortInUse,
  kBadLocalAddress,
  kClosedForSend,
  kClosedForReceive,
  kWouldBlock,
  kConnectionRefused,
  kTimeout,
  kAborted,
  kConnectStarted,
  kDestinationRequired,
  kNotSupported,
  kNotConnected,
  kConnectionReset,
  kConnectionAborted,
  kInvalidOptionValue,
  kNoLinkAddress,
  kBadAddress,
  kMessageTooLong,
  kNoBufferSpace,
  kMalformed,
};
inline constexpr int kErrcCount = static_cast<int>(Errc::kMalformed) + 1;

// Short, stable names for diagnostics and tests ("no route", as gVisor spells them).
const char* errc_name(Errc e);
// The only errno mapping (gVisor syserr/netstack.go); defined in stack/errno_map.cc.
int to_errno(Errc e);

// A value or an Errc (C++20 has no std::expected). Trivially copyable when T is.
template <class T>
class Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Expected(Errc e) : v_(std::in_place_index<1>, e) {}                   // NOLINT
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  Errc error() const { assert(!has_value()); return std::get<1>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Errc> v_;
};

// Result of an operation that returns nothing: empty on success.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Errc e) : ok_(false), e_(e) {}  // NOLINT: implicit by design
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  Errc error() const { assert(!ok_); return e_; }
  friend bool operator==(Status s, Errc e) { return !s.ok_ && s.e_ == e; }

 private:
  bool ok_ = true;
  Errc e_ = Errc::kMalformed;
};

}  // namespace netstack
