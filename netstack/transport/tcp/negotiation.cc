#include "netstack/transport/tcp/negotiation.h"

#include <algorithm>

#include "netstack/transport/tcp/receive_window.h"

namespace netstack::tcp {

Negotiated negotiate(const SynOptions& ours, const SynOptions& theirs, std::uint32_t mtu) {
  Negotiated n{};
  // The peer's MSS, never above what our own link carries; RFC 9293's default without the option.
  const std::uint16_t peer = theirs.mss.value_or(kDefaultMss);
  const std::uint16_t link = mss_for_mtu(mtu);
  n.snd_mss = std::max<std::uint16_t>(1, std::min(peer, link == 0 ? peer : link));
  // RFC 7323 §2.2: scaling is on only if both sides sent the option; §2.3: a shift above 14 is
  // used as 14.
  n.window_scaling = ours.window_scale.has_value() && theirs.window_scale.has_value();
  if (n.window_scaling) {
    n.snd_wscale = std::min(*theirs.window_scale, kMaxWindowScale);
    n.rcv_wscale = std::min(*ours.window_scale, kMaxWindowScale);
  }
  n.timestamps = ours.timestamps && theirs.timestamps;
  n.sack = ours.sack_permitted && theirs.sack_permitted;
  return n;
}

SynOptions answer_syn(const SynOptions& offer, const SynOptions& syn) {
  SynOptions answer;
  answer.mss = offer.mss;  // MSS may always be sent (RFC 9293 §3.7.1)
  if (syn.window_scale) answer.window_scale = offer.window_scale;
  answer.sack_permitted = offer.sack_permitted && syn.sack_permitted;
  answer.timestamps = offer.timestamps && syn.timestamps;
  return answer;
}

}  // namespace netstack::tcp
