#include "netstack/transport/tcp/timestamps.h"

namespace netstack::tcp {

std::uint32_t TimestampClock::tsval(Instant now) const {
  const auto ticks = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  // Truncation to 32 bits is the wrap the RFC expects.
  return static_cast<std::uint32_t>(ticks.count()) + offset_;
}

std::optional<Duration> TimestampClock::rtt_from_echo(std::uint32_t tsecr, Instant now) const {
  const std::uint32_t current = tsval(now);
  if (ts_less_than(current, tsecr)) return std::nullopt;
  return kTick * (current - tsecr);
}

void TimestampState::on_handshake(std::uint32_t peer_tsval, Instant now) {
  ts_recent_ = peer_tsval;
  recent_at_ = now;
  valid_ = true;
}

bool TimestampState::paws_reject(std::uint32_t seg_tsval, bool rst, Instant now) const {
  if (rst || !valid_) return false;
  if (now - recent_at_ > kRecentMaxIdle) return false;
  return ts_less_than(seg_tsval, ts_recent_);
}

void TimestampState::on_accepted(seqnum::Value seg_seq, std::uint32_t seg_tsval,
                                 seqnum::Value last_ack_sent, Instant now) {
  // An expired TS.Recent (RFC 7323 §5.5) is replaced even by an older TSval.
  const bool fresh = valid_ && now - recent_at_ <= kRecentMaxIdle;
  if (fresh && ts_less_than(seg_tsval, ts_recent_)) return;
  if (!seg_seq.less_than_eq(last_ack_sent)) return;
  ts_recent_ = seg_tsval;
  recent_at_ = now;
  valid_ = true;
}

}  // namespace netstack::tcp
