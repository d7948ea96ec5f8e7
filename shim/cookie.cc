#include "shim/cookie.h"

#include <netinet/in.h>
#include <sys/socket.h>

namespace shim {

const char* family_name(int family) noexcept {
  switch (family) {
    case AF_UNIX: return "unix";
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_NETLINK: return "netlink";
    case AF_PACKET: return "packet";
    case AF_UNSPEC: return "unspec";
    default: return nullptr;
  }
}

const char* type_name(int type) noexcept {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    case SOCK_RAW: return "raw";
    case SOCK_RDM: return "rdm";
    default: return nullptr;
  }
}

const char* protocol_name(int family, int protocol) noexcept {
  if (family != AF_INET && family != AF_INET6) return protocol == 0 ? "default" : nullptr;
  switch (protocol) {
    case 0: return "default";
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_ICMP: return "icmp";
    case IPPROTO_ICMPV6: return "icmpv6";
    case IPPROTO_SCTP: return "sctp";
    case IPPROTO_UDPLITE: return "udplite";
    case IPPROTO_MPTCP: return "mptcp";
    case IPPROTO_RAW: return "raw";
    default: return nullptr;
  }
}

}  // namespace shim
