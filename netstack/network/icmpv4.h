// ICMPv4 messages the stack originates (RFC 792, RFC 1122 3.2.2).
#pragma once

#include <optional>

#include "netstack/header/icmpv4.h"
#include "netstack/stack/interfaces.h"

namespace netstack::network {

// The echo reply to a valid echo request: same identifier, sequence and data (RFC 792).
// `request` is the whole ICMP message; nullopt when it is not a well-formed echo request.
std::optional<PacketBuffer> make_echo_reply(ByteView request);

// A destination-unreachable message quoting the offending datagram's IP header and the first
// 8 bytes of its payload (RFC 792), which is what the sender needs to find its socket.
PacketBuffer make_dest_unreachable(std::uint8_t code, ByteView original_ip_packet);

// RFC 1122 3.2.2: never answer an ICMP error with an ICMP error.
bool is_icmp_error(std::uint8_t type);

}  // namespace netstack::network
