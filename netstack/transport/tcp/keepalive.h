// TCP keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6) with Linux's knobs: SO_KEEPALIVE turns it on;
// after TCP_KEEPIDLE of silence a probe goes out, then one every TCP_KEEPINTVL; after TCP_KEEPCNT
// unanswered probes the connection ends with ETIMEDOUT. Any segment from the peer resets it.
#pragma once

#include <optional>

#include "netstack/transport/tcp/clock.h"

namespace netstack::tcp {

struct KeepaliveConfig {
  bool enabled = false;                                  // SO_KEEPALIVE
  Duration idle = std::chrono::seconds(7200);            // TCP_KEEPIDLE (tcp_keepalive_time)
  Duration interval = std::chrono::seconds(75);          // TCP_KEEPINTVL (tcp_keepalive_intvl)
  unsigned count = 9;                                    // TCP_KEEPCNT (tcp_keepalive_probes)
};

enum class KeepaliveAction {
  kNone,       // not due yet (or disabled)
  kSendProbe,  // send <SEQ=SND.UNA-1><ACK=RCV.NXT>: the peer must ACK it
  kAbort,      // too many probes unanswered: ETIMEDOUT
};

class Keepalive {
 public:
  explicit Keepalive(KeepaliveConfig config, Instant now) : config_(config), last_heard_(now) {}

  // setsockopt of any of the four options; the schedule restarts from the last segment heard.
  void configure(KeepaliveConfig config) { config_ = config; }
  const KeepaliveConfig& config() const { return config_; }
  // A segment arrived from the peer (a probe's ACK among them).
  void on_segment_received(Instant now);
  // When the keepalive timer should next fire; nullopt when disabled.
  std::optional<Instant> next_deadline() const;
  // The keepalive timer fired (or the caller polls): what to do at `now`.
  KeepaliveAction on_timer(Instant now);
  unsigned probes_sent() const { return probes_sent_; }

 private:
  KeepaliveConfig config_;
  Instant last_heard_;
  unsigned probes_sent_ = 0;
};

}  // namespace netstack::tcp
