// tcpdump expressions for DLT_RAW that relocate to socket filters (no `len`, `less`, `greater`):
// protocols, hosts, nets, ports, flags, byte and word fields, arithmetic, indirect loads.
#pragma once

#include <array>
#include <string_view>

namespace bpfvm::testing {

inline constexpr std::array<std::string_view, 56> kExpressions = {
    "ip", "udp", "tcp", "icmp", "ip6", "ip proto 17", "ip proto 6",
    "host 127.0.0.1", "src host 127.0.0.1", "dst host 10.0.0.1", "net 127.0.0.0/8",
    "not net 10.0.0.0/8", "src net 127.0.0.0/16 and dst net 127.0.0.0/24",
    "udp port 53", "udp dst port 53", "udp src portrange 1024-65535", "tcp port 80 or tcp port 443",
    "portrange 1-1024", "udp and not port 22", "udp dst port 53 or udp dst port 5353",
    "ip[8] = 64", "ip[9] == 17", "ip[6:2] & 0x4000 != 0", "ip[6:2] & 0x1fff = 0",
    "ip[0] & 0xf = 5", "ip[2:2] > 30", "ip[2:2] < 40", "ip[4:2] = 0", "ip[12:4] = 0x7f000001",
    "udp[4:2] > 8", "udp[4:2] < 20", "udp[6:2] = 0", "udp[8] = 0xab", "udp[8:4] = 0",
    "udp[8:2] = 0xabab", "udp[8] & 1 = 1", "udp[0:2] > 1024", "udp[2:2] > udp[0:2]",
    "udp[udp[8] & 7] = 0", "ip[ip[0] & 0xf] = 0", "(ip[2:2] - ((ip[0] & 0xf) << 2)) > 20",
    "ip[2:2] * 2 > 100", "ip[2:2] / 4 > 8", "ip[2:2] % 7 = 3", "ip[2:2] ^ 0xff != 0",
    "ip[8] >> 1 = 32", "ip[8] << 1 = 128", "ip[9] - 1 = 16", "ip[9] + 1 = 18", "-ip[9] != 0",
    "ip[2:2] & ip[8] != 0", "ip[2:2] | 1 = 0x21", "icmp[icmptype] = icmp-echo",
    "tcp[tcpflags] & tcp-syn != 0", "ip multicast", "udp[8:2] > udp[10:2]",
};

}  // namespace bpfvm::testing
