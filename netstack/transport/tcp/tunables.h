// Every TCP tunable in one place, with the Linux defaults (the sysctl or socket option named
// beside each), so the endpoint builds its modules' configs from one struct and the docs list one
// table.
#pragma once

#include <cstdint>

#include "netstack/transport/tcp/clock.h"
#include "netstack/transport/tcp/delayed_ack.h"
#include "netstack/transport/tcp/keepalive.h"
#include "netstack/transport/tcp/rtt_estimator.h"

namespace netstack::tcp {

struct Tunables {
  // TCP_RTO_MIN 200 ms, TCP_RTO_MAX 120 s, TCP_TIMEOUT_INIT 1 s.
  RtoConfig rto = RtoConfig::linux_defaults();
  unsigned syn_retries = 6;                     // net.ipv4.tcp_syn_retries
  unsigned synack_retries = 5;                  // net.ipv4.tcp_synack_retries
  unsigned data_retries = 15;                   // net.ipv4.tcp_retries2
  Duration time_wait = std::chrono::seconds(60);  // TCP_TIMEWAIT_LEN (2*MSL)
  DelayedAckConfig delayed_ack{};               // 40 ms (TCP_DELACK_MIN), every 2nd segment
  KeepaliveConfig keepalive{};                  // off; 7200 s, 75 s, 9 probes
  std::uint32_t receive_buffer = 131072;        // net.ipv4.tcp_rmem default
  // net.ipv4.tcp_wmem's default is 16 KiB, but Linux autotunes it up to 4 MiB during a bulk
  // transfer; without autotuning, a fixed 256 KiB keeps a bulk sender from stalling on its own
  // buffer (the ring is allocated once per connection at the handshake).
  std::uint32_t send_buffer = 262144;
  unsigned listen_backlog_max = 4096;           // net.core.somaxconn
  unsigned challenge_acks_per_second = 1000;    // tcp_challenge_ack_limit before Linux 6.0
  bool sack = true;                             // net.ipv4.tcp_sack
  bool timestamps = true;                       // net.ipv4.tcp_timestamps
  bool window_scaling = true;                   // net.ipv4.tcp_window_scaling
  bool nodelay = false;                         // TCP_NODELAY (per socket)
};

}  // namespace netstack::tcp
