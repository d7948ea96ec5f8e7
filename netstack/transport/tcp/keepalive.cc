#include "netstack/transport/tcp/keepalive.h"

namespace netstack::tcp {

void Keepalive::on_segment_received(Instant now) {
  last_heard_ = now;
  probes_sent_ = 0;
}

std::optional<Instant> Keepalive::next_deadline() const {
  if (!config_.enabled) return std::nullopt;
  return last_heard_ + config_.idle + config_.interval * probes_sent_;
}

KeepaliveAction Keepalive::on_timer(Instant now) {
  const auto due = next_deadline();
  if (!due || now < *due) return KeepaliveAction::kNone;
  // The probe that would be number count + 1 is not sent: count probes went unanswered.
  if (probes_sent_ >= config_.count) return KeepaliveAction::kAbort;
  ++probes_sent_;
  return KeepaliveAction::kSendProbe;
}

}  // namespace netstack::tcp
