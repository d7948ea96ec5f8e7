// What a socket filter sees: the packet from offset 0 (skb->data), optionally the bytes from the
// network and link-layer headers to the end of the same packet, and the skb fields the
// ancillary loads read.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace bpfvm {

// Values as the kernel hands them to A. Fields narrower than 32 bits in the kernel are masked
// at load time (protocol, queue, hatype, vlan_tag, vlan_tpid: 16 bits; pkttype: 3 bits), and
// vlan_tag_present reads 1 for any non-zero value, as convert_bpf_extensions does.
struct Ancillaries {
  std::uint32_t protocol = 0;   // ntohs(skb->protocol): 0x0800 for IPv4
  std::uint32_t pkttype = 0;    // PACKET_HOST = 0, ...
  std::uint32_t ifindex = 0;
  std::uint32_t mark = 0;
  std::uint32_t queue = 0;      // skb->queue_mapping
  std::uint32_t hatype = 0;     // dev->type: ARPHRD_ETHER = 1, ARPHRD_LOOPBACK = 772
  std::uint32_t rxhash = 0;
  std::uint32_t cpu = 0;
  std::uint32_t vlan_tag = 0;
  std::uint32_t vlan_tag_present = 0;
  std::uint32_t vlan_tpid = 0;  // host order, e.g. 0x8100
  std::uint32_t pay_offset = 0; // what the kernel's flow dissector (skb_get_poff) would say
  std::uint32_t random = 0;     // the one value bpf_user_rnd_u32 "returns" for this run
};

struct Context {
  std::span<const std::uint8_t> packet;
  // From the network (SKF_NET_OFF) and link-layer (SKF_LL_OFF) header to the end of the packet;
  // absent means the kernel's pointer would be unusable, so such loads drop (return 0).
  std::optional<std::span<const std::uint8_t>> net;
  std::optional<std::span<const std::uint8_t>> ll;
  Ancillaries anc;
};

}  // namespace bpfvm
