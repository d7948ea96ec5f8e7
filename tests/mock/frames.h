// The mock agent's wire format, shared by mock_agent and mock_client. See README.md and the
// header comment of mock_agent.cc for the protocol; this file only names its offsets and numbers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mock {

// Control channel: {uint32 command, uint32 length} big-endian, then `length` payload bytes.
// Command numbers follow hyperstart's (INIT_VERSION 0, INIT_ACK 9, INIT_ERROR 10, INIT_PING 12,
// INIT_WRITEFILE 15); kStats is the mock's own, far from hyperstart's range.
inline constexpr std::uint32_t kVersion = 0;
inline constexpr std::uint32_t kAck = 9;
inline constexpr std::uint32_t kError = 10;
inline constexpr std::uint32_t kPing = 12;
inline constexpr std::uint32_t kWriteFile = 15;
inline constexpr std::uint32_t kStats = 0x4d4f0001;  // "MO" 1: the agent's counters (not counted)
inline constexpr std::uint32_t kUnknownForTest = 0xdead;  // the client sends it once to see kError

// An ack's payload: {uint32 command acked, uint32 payload length received, uint64 FNV-1a of that
// payload}, so the client checks every frame's bytes, not only the run's total.
inline constexpr std::size_t kAckSize = 16;
// A stats reply's payload: six uint64 (ctl frames, ctl bytes, ctl fnv, io frames, io bytes, io
// fnv).
inline constexpr std::size_t kStatsSize = 48;

inline constexpr std::size_t kCtlHeaderSize = 8;
inline constexpr std::size_t kIoHeaderSize = 12;
// Larger frames are a protocol error: the agent answers kError and closes the connection.
inline constexpr std::uint32_t kMaxPayload = 1u << 20;

inline std::uint32_t load_be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
inline std::uint64_t load_be64(const std::uint8_t* p) {
  return std::uint64_t{load_be32(p)} << 32 | load_be32(p + 4);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
inline void store_be64(std::uint8_t* p, std::uint64_t v) {
  store_be32(p, static_cast<std::uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<std::uint32_t>(v));
}

// FNV-1a 64: order-sensitive, so a byte lost, duplicated or swapped changes it.
class Fnv {
 public:
  void add(std::span<const std::uint8_t> bytes) {
    for (std::uint8_t b : bytes) h_ = (h_ ^ b) * 0x100000001b3ull;
  }
  std::uint64_t value() const { return h_; }
  static std::uint64_t of(std::span<const std::uint8_t> bytes) {
    Fnv f;
    f.add(bytes);
    return f.value();
  }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};

// What one side saw on one channel: frames, payload bytes and the FNV-1a of all payload bytes in
// order. The agent and the client keep one each; equal counters mean no byte was lost.
struct ChannelTally {
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  Fnv fnv;
  void add(std::span<const std::uint8_t> payload) {
    ++frames;
    bytes += payload.size();
    fnv.add(payload);
  }
};

}  // namespace mock
