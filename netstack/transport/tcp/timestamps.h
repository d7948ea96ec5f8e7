// TCP timestamps (RFC 7323 §3-5): the TSval clock, RTT samples from TSecr (RTTM) and
// protection against wrapped sequence numbers (PAWS). Times are passed in by the caller.
#pragma once

#include <cstdint>
#include <optional>

#include "netstack/seqnum/seqnum.h"
#include "netstack/transport/tcp/clock.h"

namespace netstack::tcp {

// Timestamp values wrap modulo 2^32 like sequence numbers (RFC 7323 §5.2).
constexpr bool ts_less_than(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}

// The TSval clock: milliseconds (RFC 7323 §5.4 asks for 1 ms to 1 s per tick) plus a
// per-connection offset, so that TSval does not reveal the host's uptime (RFC 7323 §7.1).
class TimestampClock {
 public:
  static constexpr Duration kTick = std::chrono::milliseconds(1);

  explicit TimestampClock(std::uint32_t offset = 0) : offset_(offset) {}
  std::uint32_t tsval(Instant now) const;
  // RFC 7323 §4.2 (RTTM): the RTT is "now" minus the TSecr the peer echoed. nullopt if the echo
  // lies in our future (a forged or corrupt TSecr), which gives no sample.
  std::optional<Duration> rtt_from_echo(std::uint32_t tsecr, Instant now) const;

 private:
  std::uint32_t offset_;
};

// Per-connection receive-side state: TS.Recent and its age, for the echo and for PAWS.
class TimestampState {
 public:
  // RFC 7323 §5.5: a TS.Recent idle for more than 24 days is invalid (the peer's clock may have
  // wrapped by half), so PAWS stops using it.
  static constexpr Duration kRecentMaxIdle = std::chrono::hours(24 * 24);

  // From the SYN or SYN-ACK that negotiated the option (RFC 7323 §3.2).
  void on_handshake(std::uint32_t peer_tsval, Instant now);

  // RFC 7323 §5.3 R1: reject a non-RST segment whose TSval is older than TS.Recent. The caller
  // then sends an ACK and drops the segment.
  bool paws_reject(std::uint32_t seg_tsval, bool rst, Instant now) const;

  // RFC 7323 §4.3 (2): after a segment passed the acceptability checks, TS.Recent takes its
  // TSval if it is not older and the segment starts at or before the last ACK we sent; this
  // echoes the earliest unacknowledged segment under delayed ACK.
  void on_accepted(seqnum::Value seg_seq, std::uint32_t seg_tsval, seqnum::Value last_ack_sent,
                   Instant now);

  // TSecr for the next segment we send.
  std::uint32_t ts_recent() const { return ts_recent_; }

 private:
  std::uint32_t ts_recent_ = 0;
  Instant recent_at_{};
  bool valid_ = false;
};

}  // namespace netstack::tcp
