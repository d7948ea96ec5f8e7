// What a SYN / SYN-ACK exchange settles: the send MSS (RFC 9293 §3.7.1), window scaling
// (RFC 7323 §2.2-2.3), timestamps (RFC 7323 §3.2) and SACK (RFC 2018 §2). Each extension is on
// only if both SYNs carried it. The endpoint fills SynOptions from the parsed header options.
#pragma once

#include <cstdint>
#include <optional>

namespace netstack::tcp {

// RFC 9293 §3.7.1: the send MSS when the peer's SYN has no MSS option (IPv4).
inline constexpr std::uint16_t kDefaultMss = 536;
// IPv4 (20) + TCP (20) header bytes without options: MSS = MTU - 40.
inline constexpr std::uint16_t kIpv4TcpHeaders = 40;

struct SynOptions {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;
  bool sack_permitted = false;
  bool timestamps = false;
};

struct Negotiated {
  std::uint16_t snd_mss;       // largest segment payload we may send (before options)
  std::uint8_t snd_wscale;     // shift the peer's window fields get (0: scaling off)
  std::uint8_t rcv_wscale;     // shift our window fields get
  bool window_scaling;
  bool timestamps;
  bool sack;
};

// The MSS to announce in our SYN for a link MTU (RFC 9293 §3.7.1 / RFC 6691).
constexpr std::uint16_t mss_for_mtu(std::uint32_t mtu) {
  return mtu <= kIpv4TcpHeaders ? 0
         : mtu - kIpv4TcpHeaders > 0xffff ? std::uint16_t{0xffff}
                                          : static_cast<std::uint16_t>(mtu - kIpv4TcpHeaders);
}

// `ours`: what our SYN (or SYN-ACK) offered; `theirs`: what the peer's carried. `mtu`: our link's,
// which also bounds what we send.
Negotiated negotiate(const SynOptions& ours, const SynOptions& theirs, std::uint32_t mtu);

// A SYN-ACK answers only what the SYN offered (RFC 7323 §2.2, §3.2; RFC 2018 §2): what we may put
// in our SYN-ACK, given what we would offer and what the SYN carried.
SynOptions answer_syn(const SynOptions& offer, const SynOptions& syn);

// Eff.snd.MSS (RFC 9293 §3.7.1): the payload of a segment once TCP options take their room, e.g.
// 12 bytes for timestamps, 12 + 8n... for SACK blocks in that segment.
constexpr std::uint16_t effective_send_mss(std::uint16_t snd_mss, std::uint16_t options_bytes) {
  return options_bytes >= snd_mss ? 1 : static_cast<std::uint16_t>(snd_mss - options_bytes);
}

}  // namespace netstack::tcp
