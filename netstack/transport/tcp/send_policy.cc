#include "netstack/transport/tcp/send_policy.h"

#include <algorithm>

namespace netstack::tcp {

seqnum::Size next_segment_length(const SendState& s) {
  if (s.queued == 0 || s.usable_window == 0 || s.eff_mss == 0) return 0;
  const seqnum::Size d = std::min({s.queued, s.usable_window, s.eff_mss});
  // (i) a full-sized segment always goes.
  if (d == s.eff_mss) return d;
  const bool everything = d == s.queued;
  // Nagle: while data is unacknowledged, hold a small segment until the ACK or a full segment.
  // The segment that carries the FIN is exempt, as in Linux: nothing more will join it.
  if (!s.nodelay && s.unacked_data && !(s.fin_queued && everything)) return 0;
  // (ii) pushed, and all of it fits now; (iii) pushed, and at least half the largest window the
  // peer has offered; (iv) the override timer expired.
  if (s.push && everything) return d;
  if (s.fin_queued && everything) return d;
  if (s.push && d >= s.max_snd_wnd / 2) return d;
  if (s.override_expired) return d;
  return 0;
}

Duration zero_window_probe_interval(Duration rto, unsigned probes_sent, Duration max) {
  Duration interval = rto;
  for (unsigned i = 0; i < probes_sent && interval < max; ++i) interval *= 2;
  return std::min(interval, max);
}

}  // namespace netstack::tcp
