// The names rule files use for socket families, types and protocols, shared by the loader and
// describe() so that what `sockshim check` prints can be pasted back into a rule file.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include "filters/names.h"

namespace filters {

inline constexpr NamedValue kFamilyNames[] = {
    {"unspec", AF_UNSPEC}, {"unix", AF_UNIX},       {"inet", AF_INET},
    {"inet6", AF_INET6},   {"netlink", AF_NETLINK}, {"packet", AF_PACKET},
};

inline constexpr NamedValue kTypeNames[] = {
    {"stream", SOCK_STREAM}, {"dgram", SOCK_DGRAM}, {"seqpacket", SOCK_SEQPACKET},
    {"raw", SOCK_RAW},       {"rdm", SOCK_RDM},
};

// "default" is 0, what a program passes to let the kernel choose. The shim compares with the
// protocol SO_PROTOCOL reports, so "default" only ever matches families without protocols (unix).
inline constexpr NamedValue kProtocolNames[] = {
    {"default", 0},          {"tcp", IPPROTO_TCP},   {"udp", IPPROTO_UDP},
    {"icmp", IPPROTO_ICMP},  {"icmpv6", IPPROTO_ICMPV6}, {"sctp", IPPROTO_SCTP},
    {"udplite", IPPROTO_UDPLITE}, {"mptcp", IPPROTO_MPTCP}, {"raw", IPPROTO_RAW},
};

// Ranges for numbers written instead of names. A family is a sa_family_t; a type is what the
// kernel masks with SOCK_TYPE_MASK (so SOCK_NONBLOCK/SOCK_CLOEXEC cannot be part of it).
inline constexpr int kMaxFamily = 65535;
inline constexpr int kMaxType = 15;
inline constexpr int kMaxProtocol = 65535;

}  // namespace filters
