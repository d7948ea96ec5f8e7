// getsockopt/setsockopt level and option names as rule files write them ("SOL_SOCKET",
// "TCP_NODELAY"). Option numbers repeat across levels (TCP_NODELAY, SO_DEBUG and IP_TOS are all
// 1), so an option name is looked up in its level's table and carries that level with it.
#include "filters/sockopt_names.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>

namespace filters {
namespace {

// Every name this platform's headers define, in the kernel's numeric order.
constexpr NamedValue kSolSocket[] = {
#ifdef SO_DEBUG
    {"SO_DEBUG", SO_DEBUG},
#endif
#ifdef SO_REUSEADDR
    {"SO_REUSEADDR", SO_REUSEADDR},
#endif
#ifdef SO_TYPE
    {"SO_TYPE", SO_TYPE},
#endif
#ifdef SO_ERROR
    {"SO_ERROR", SO_ERROR},
#endif
#ifdef SO_DONTROUTE
    {"SO_DONTROUTE", SO_DONTROUTE},
#endif
#ifdef SO_BROADCAST
    {"SO_BROADCAST", SO_BROADCAST},
#endif
#ifdef SO_SNDBUF
    {"SO_SNDBUF", SO_SNDBUF},
#endif
#ifdef SO_RCVBUF
    {"SO_RCVBUF", SO_RCVBUF},
#endif
#ifdef SO_SNDBUFFORCE
    {"SO_SNDBUFFORCE", SO_SNDBUFFORCE},
#endif
#ifdef SO_RCVBUFFORCE
    {"SO_RCVBUFFORCE", SO_RCVBUFFORCE},
#endif
#ifdef SO_KEEPALIVE
    {"SO_KEEPALIVE", SO_KEEPALIVE},
#endif
#ifdef SO_OOBINLINE
    {"SO_OOBINLINE", SO_OOBINLINE},
#endif
#ifdef SO_NO_CHECK
    {"SO_NO_CHECK", SO_NO_CHECK},
#endif
#ifdef SO_PRIORITY
    {"SO_PRIORITY", SO_PRIORITY},
#endif
#ifdef SO_LINGER
    {"SO_LINGER", SO_LINGER},
#endif
#ifdef SO_BSDCOMPAT
    {"SO_BSDCOMPAT", SO_BSDCOMPAT},
#endif
#ifdef SO_REUSEPORT
    {"SO_REUSEPORT", SO_REUSEPORT},
#endif
#ifdef SO_PASSCRED
    {"SO_PASSCRED", SO_PASSCRED},
#endif
#ifdef SO_PEERCRED
    {"SO_PEERCRED", SO_PEERCRED},
#endif
#ifdef SO_RCVLOWAT
    {"SO_RCVLOWAT", SO_RCVLOWAT},
#endif
#ifdef SO_SNDLOWAT
    {"SO_SNDLOWAT", SO_SNDLOWAT},
#endif
#ifdef SO_RCVTIMEO
    {"SO_RCVTIMEO", SO_RCVTIMEO},
#endif
#ifdef SO_SNDTIMEO
    {"SO_SNDTIMEO", SO_SNDTIMEO},
#endif
#ifdef SO_BINDTODEVICE
    {"SO_BINDTODEVICE", SO_BINDTODEVICE},
#endif
#ifdef SO_ATTACH_FILTER
    {"SO_ATTACH_FILTER", SO_ATTACH_FILTER},
#endif
#ifdef SO_DETACH_FILTER
    {"SO_DETACH_FILTER", SO_DETACH_FILTER},
#endif
#ifdef SO_LOCK_FILTER
    {"SO_LOCK_FILTER", SO_LOCK_FILTER},
#endif
#ifdef SO_PEERNAME
    {"SO_PEERNAME", SO_PEERNAME},
#endif
#ifdef SO_TIMESTAMP
    {"SO_TIMESTAMP", SO_TIMESTAMP},
#endif
#ifdef SO_TIMESTAMPNS
    {"SO_TIMESTAMPNS", SO_TIMESTAMPNS},
#endif
#ifdef SO_TIMESTAMPING
    {"SO_TIMESTAMPING", SO_TIMESTAMPING},
#endif
#ifdef SO_ACCEPTCONN
    {"SO_ACCEPTCONN", SO_ACCEPTCONN},
#endif
#ifdef SO_PEERSEC
    {"SO_PEERSEC", SO_PEERSEC},
#endif
#ifdef SO_PASSSEC
    {"SO_PASSSEC", SO_PASSSEC},
#endif
#ifdef SO_MARK
    {"SO_MARK", SO_MARK},
#endif
#ifdef SO_PROTOCOL
    {"SO_PROTOCOL", SO_PROTOCOL},
#endif
#ifdef SO_DOMAIN
    {"SO_DOMAIN", SO_DOMAIN},
#endif
#ifdef SO_RXQ_OVFL
    {"SO_RXQ_OVFL", SO_RXQ_OVFL},
#endif
#ifdef SO_WIFI_STATUS
    {"SO_WIFI_STATUS", SO_WIFI_STATUS},
#endif
#ifdef SO_PEEK_OFF
    {"SO_PEEK_OFF", SO_PEEK_OFF},
#endif
#ifdef SO_NOFCS
    {"SO_NOFCS", SO_NOFCS},
#endif
#ifdef SO_BUSY_POLL
    {"SO_BUSY_POLL", SO_BUSY_POLL},
#endif
#ifdef SO_MAX_PACING_RATE
    {"SO_MAX_PACING_RATE", SO_MAX_PACING_RATE},
#endif
#ifdef SO_BPF_EXTENSIONS
    {"SO_BPF_EXTENSIONS", SO_BPF_EXTENSIONS},
#endif
#ifdef SO_INCOMING_CPU
    {"SO_INCOMING_CPU", SO_INCOMING_CPU},
#endif
#ifdef SO_ATTACH_BPF
    {"SO_ATTACH_BPF", SO_ATTACH_BPF},
#endif
#ifdef SO_ATTACH_REUSEPORT_CBPF
    {"SO_ATTACH_REUSEPORT_CBPF", SO_ATTACH_REUSEPORT_CBPF},
#endif
#ifdef SO_ATTACH_REUSEPORT_EBPF
    {"SO_ATTACH_REUSEPORT_EBPF", SO_ATTACH_REUSEPORT_EBPF},
#endif
#ifdef SO_CNX_ADVICE
    {"SO_CNX_ADVICE", SO_CNX_ADVICE},
#endif
#ifdef SO_MEMINFO
    {"SO_MEMINFO", SO_MEMINFO},
#endif
#ifdef SO_INCOMING_NAPI_ID
    {"SO_INCOMING_NAPI_ID", SO_INCOMING_NAPI_ID},
#endif
#ifdef SO_COOKIE
    {"SO_COOKIE", SO_COOKIE},
#endif
#ifdef SO_PEERGROUPS
    {"SO_PEERGROUPS", SO_PEERGROUPS},
#endif
#ifdef SO_ZEROCOPY
    {"SO_ZEROCOPY", SO_ZEROCOPY},
#endif
#ifdef SO_TXTIME
    {"SO_TXTIME", SO_TXTIME},
#endif
#ifdef SO_BINDTOIFINDEX
    {"SO_BINDTOIFINDEX", SO_BINDTOIFINDEX},
#endif
#ifdef SO_DETACH_REUSEPORT_BPF
    {"SO_DETACH_REUSEPORT_BPF", SO_DETACH_REUSEPORT_BPF},
#endif
#ifdef SO_PREFER_BUSY_POLL
    {"SO_PREFER_BUSY_POLL", SO_PREFER_BUSY_POLL},
#endif
#ifdef SO_BUSY_POLL_BUDGET
    {"SO_BUSY_POLL_BUDGET", SO_BUSY_POLL_BUDGET},
#endif
#ifdef SO_NETNS_COOKIE
    {"SO_NETNS_COOKIE", SO_NETNS_COOKIE},
#endif
#ifdef SO_BUF_LOCK
    {"SO_BUF_LOCK", SO_BUF_LOCK},
#endif
#ifdef SO_RESERVE_MEM
    {"SO_RESERVE_MEM", SO_RESERVE_MEM},
#endif
#ifdef SO_TXREHASH
    {"SO_TXREHASH", SO_TXREHASH},
#endif
#ifdef SO_RCVMARK
    {"SO_RCVMARK", SO_RCVMARK},
#endif
};

constexpr NamedValue kTcp[] = {
#ifdef TCP_NODELAY
    {"TCP_NODELAY", TCP_NODELAY},
#endif
#ifdef TCP_MAXSEG
    {"TCP_MAXSEG", TCP_MAXSEG},
#endif
#ifdef TCP_CORK
    {"TCP_CORK", TCP_CORK},
#endif
#ifdef TCP_KEEPIDLE
    {"TCP_KEEPIDLE", TCP_KEEPIDLE},
#endif
#ifdef TCP_KEEPINTVL
    {"TCP_KEEPINTVL", TCP_KEEPINTVL},
#endif
#ifdef TCP_KEEPCNT
    {"TCP_KEEPCNT", TCP_KEEPCNT},
#endif
#ifdef TCP_SYNCNT
    {"TCP_SYNCNT", TCP_SYNCNT},
#endif
#ifdef TCP_LINGER2
    {"TCP_LINGER2", TCP_LINGER2},
#endif
#ifdef TCP_DEFER_ACCEPT
    {"TCP_DEFER_ACCEPT", TCP_DEFER_ACCEPT},
#endif
#ifdef TCP_WINDOW_CLAMP
    {"TCP_WINDOW_CLAMP", TCP_WINDOW_CLAMP},
#endif
#ifdef TCP_INFO
    {"TCP_INFO", TCP_INFO},
#endif
#ifdef TCP_QUICKACK
    {"TCP_QUICKACK", TCP_QUICKACK},
#endif
#ifdef TCP_CONGESTION
    {"TCP_CONGESTION", TCP_CONGESTION},
#endif
#ifdef TCP_MD5SIG
    {"TCP_MD5SIG", TCP_MD5SIG},
#endif
#ifdef TCP_THIN_LINEAR_TIMEOUTS
    {"TCP_THIN_LINEAR_TIMEOUTS", TCP_THIN_LINEAR_TIMEOUTS},
#endif
#ifdef TCP_THIN_DUPACK
    {"TCP_THIN_DUPACK", TCP_THIN_DUPACK},
#endif
#ifdef TCP_USER_TIMEOUT
    {"TCP_USER_TIMEOUT", TCP_USER_TIMEOUT},
#endif
#ifdef TCP_REPAIR
    {"TCP_REPAIR", TCP_REPAIR},
#endif
#ifdef TCP_REPAIR_QUEUE
    {"TCP_REPAIR_QUEUE", TCP_REPAIR_QUEUE},
#endif
#ifdef TCP_QUEUE_SEQ
    {"TCP_QUEUE_SEQ", TCP_QUEUE_SEQ},
#endif
#ifdef TCP_REPAIR_OPTIONS
    {"TCP_REPAIR_OPTIONS", TCP_REPAIR_OPTIONS},
#endif
#ifdef TCP_FASTOPEN
    {"TCP_FASTOPEN", TCP_FASTOPEN},
#endif
#ifdef TCP_TIMESTAMP
    {"TCP_TIMESTAMP", TCP_TIMESTAMP},
#endif
#ifdef TCP_NOTSENT_LOWAT
    {"TCP_NOTSENT_LOWAT", TCP_NOTSENT_LOWAT},
#endif
#ifdef TCP_CC_INFO
    {"TCP_CC_INFO", TCP_CC_INFO},
#endif
#ifdef TCP_SAVE_SYN
    {"TCP_SAVE_SYN", TCP_SAVE_SYN},
#endif
#ifdef TCP_SAVED_SYN
    {"TCP_SAVED_SYN", TCP_SAVED_SYN},
#endif
#ifdef TCP_REPAIR_WINDOW
    {"TCP_REPAIR_WINDOW", TCP_REPAIR_WINDOW},
#endif
#ifdef TCP_FASTOPEN_CONNECT
    {"TCP_FASTOPEN_CONNECT", TCP_FASTOPEN_CONNECT},
#endif
#ifdef TCP_ULP
    {"TCP_ULP", TCP_ULP},
#endif
#ifdef TCP_MD5SIG_EXT
    {"TCP_MD5SIG_EXT", TCP_MD5SIG_EXT},
#endif
#ifdef TCP_FASTOPEN_KEY
    {"TCP_FASTOPEN_KEY", TCP_FASTOPEN_KEY},
#endif
#ifdef TCP_FASTOPEN_NO_COOKIE
    {"TCP_FASTOPEN_NO_COOKIE", TCP_FASTOPEN_NO_COOKIE},
#endif
#ifdef TCP_ZEROCOPY_RECEIVE
    {"TCP_ZEROCOPY_RECEIVE", TCP_ZEROCOPY_RECEIVE},
#endif
#ifdef TCP_INQ
    {"TCP_INQ", TCP_INQ},
#endif
#ifdef TCP_TX_DELAY
    {"TCP_TX_DELAY", TCP_TX_DELAY},
#endif
};

constexpr NamedValue kIp[] = {
#ifdef IP_TOS
    {"IP_TOS", IP_TOS},
#endif
#ifdef IP_TTL
    {"IP_TTL", IP_TTL},
#endif
#ifdef IP_HDRINCL
    {"IP_HDRINCL", IP_HDRINCL},
#endif
#ifdef IP_OPTIONS
    {"IP_OPTIONS", IP_OPTIONS},
#endif
#ifdef IP_RECVOPTS
    {"IP_RECVOPTS", IP_RECVOPTS},
#endif
#ifdef IP_RETOPTS
    {"IP_RETOPTS", IP_RETOPTS},
#endif
#ifdef IP_PKTINFO
    {"IP_PKTINFO", IP_PKTINFO},
#endif
#ifdef IP_PKTOPTIONS
    {"IP_PKTOPTIONS", IP_PKTOPTIONS},
#endif
#ifdef IP_MTU_DISCOVER
    {"IP_MTU_DISCOVER", IP_MTU_DISCOVER},
#endif
#ifdef IP_RECVERR
    {"IP_RECVERR", IP_RECVERR},
#endif
#ifdef IP_RECVTTL
    {"IP_RECVTTL", IP_RECVTTL},
#endif
#ifdef IP_RECVTOS
    {"IP_RECVTOS", IP_RECVTOS},
#endif
#ifdef IP_MTU
    {"IP_MTU", IP_MTU},
#endif
#ifdef IP_FREEBIND
    {"IP_FREEBIND", IP_FREEBIND},
#endif
#ifdef IP_IPSEC_POLICY
    {"IP_IPSEC_POLICY", IP_IPSEC_POLICY},
#endif
#ifdef IP_XFRM_POLICY
    {"IP_XFRM_POLICY", IP_XFRM_POLICY},
#endif
#ifdef IP_PASSSEC
    {"IP_PASSSEC", IP_PASSSEC},
#endif
#ifdef IP_TRANSPARENT
    {"IP_TRANSPARENT", IP_TRANSPARENT},
#endif
#ifdef IP_ORIGDSTADDR
    {"IP_ORIGDSTADDR", IP_ORIGDSTADDR},
#endif
#ifdef IP_RECVORIGDSTADDR
    {"IP_RECVORIGDSTADDR", IP_RECVORIGDSTADDR},
#endif
#ifdef IP_MINTTL
    {"IP_MINTTL", IP_MINTTL},
#endif
#ifdef IP_NODEFRAG
    {"IP_NODEFRAG", IP_NODEFRAG},
#endif
#ifdef IP_CHECKSUM
    {"IP_CHECKSUM", IP_CHECKSUM},
#endif
#ifdef IP_BIND_ADDRESS_NO_PORT
    {"IP_BIND_ADDRESS_NO_PORT", IP_BIND_ADDRESS_NO_PORT},
#endif
#ifdef IP_RECVFRAGSIZE
    {"IP_RECVFRAGSIZE", IP_RECVFRAGSIZE},
#endif
#ifdef IP_MULTICAST_IF
    {"IP_MULTICAST_IF", IP_MULTICAST_IF},
#endif
#ifdef IP_MULTICAST_TTL
    {"IP_MULTICAST_TTL", IP_MULTICAST_TTL},
#endif
#ifdef IP_MULTICAST_LOOP
    {"IP_MULTICAST_LOOP", IP_MULTICAST_LOOP},
#endif
#ifdef IP_ADD_MEMBERSHIP
    {"IP_ADD_MEMBERSHIP", IP_ADD_MEMBERSHIP},
#endif
#ifdef IP_DROP_MEMBERSHIP
    {"IP_DROP_MEMBERSHIP", IP_DROP_MEMBERSHIP},
#endif
#ifdef IP_UNBLOCK_SOURCE
    {"IP_UNBLOCK_SOURCE", IP_UNBLOCK_SOURCE},
#endif
#ifdef IP_BLOCK_SOURCE
    {"IP_BLOCK_SOURCE", IP_BLOCK_SOURCE},
#endif
#ifdef IP_ADD_SOURCE_MEMBERSHIP
    {"IP_ADD_SOURCE_MEMBERSHIP", IP_ADD_SOURCE_MEMBERSHIP},
#endif
#ifdef IP_DROP_SOURCE_MEMBERSHIP
    {"IP_DROP_SOURCE_MEMBERSHIP", IP_DROP_SOURCE_MEMBERSHIP},
#endif
#ifdef IP_MSFILTER
    {"IP_MSFILTER", IP_MSFILTER},
#endif
#ifdef IP_MULTICAST_ALL
    {"IP_MULTICAST_ALL", IP_MULTICAST_ALL},
#endif
#ifdef IP_UNICAST_IF
    {"IP_UNICAST_IF", IP_UNICAST_IF},
#endif
};

constexpr NamedValue kIpv6[] = {
#ifdef IPV6_ADDRFORM
    {"IPV6_ADDRFORM", IPV6_ADDRFORM},
#endif
#ifdef IPV6_2292PKTINFO
    {"IPV6_2292PKTINFO", IPV6_2292PKTINFO},
#endif
#ifdef IPV6_2292HOPOPTS
    {"IPV6_2292HOPOPTS", IPV6_2292HOPOPTS},
#endif
#ifdef IPV6_2292DSTOPTS
    {"IPV6_2292DSTOPTS", IPV6_2292DSTOPTS},
#endif
#ifdef IPV6_2292RTHDR
    {"IPV6_2292RTHDR", IPV6_2292RTHDR},
#endif
#ifdef IPV6_2292PKTOPTIONS
    {"IPV6_2292PKTOPTIONS", IPV6_2292PKTOPTIONS},
#endif
#ifdef IPV6_CHECKSUM
    {"IPV6_CHECKSUM", IPV6_CHECKSUM},
#endif
#ifdef IPV6_2292HOPLIMIT
    {"IPV6_2292HOPLIMIT", IPV6_2292HOPLIMIT},
#endif
#ifdef IPV6_NEXTHOP
    {"IPV6_NEXTHOP", IPV6_NEXTHOP},
#endif
#ifdef IPV6_AUTHHDR
    {"IPV6_AUTHHDR", IPV6_AUTHHDR},
#endif
#ifdef IPV6_UNICAST_HOPS
    {"IPV6_UNICAST_HOPS", IPV6_UNICAST_HOPS},
#endif
#ifdef IPV6_MULTICAST_IF
    {"IPV6_MULTICAST_IF", IPV6_MULTICAST_IF},
#endif
#ifdef IPV6_MULTICAST_HOPS
    {"IPV6_MULTICAST_HOPS", IPV6_MULTICAST_HOPS},
#endif
#ifdef IPV6_MULTICAST_LOOP
    {"IPV6_MULTICAST_LOOP", IPV6_MULTICAST_LOOP},
#endif
#ifdef IPV6_JOIN_GROUP
    {"IPV6_JOIN_GROUP", IPV6_JOIN_GROUP},
#endif
#ifdef IPV6_LEAVE_GROUP
    {"IPV6_LEAVE_GROUP", IPV6_LEAVE_GROUP},
#endif
#ifdef IPV6_ROUTER_ALERT
    {"IPV6_ROUTER_ALERT", IPV6_ROUTER_ALERT},
#endif
#ifdef IPV6_MTU_DISCOVER
    {"IPV6_MTU_DISCOVER", IPV6_MTU_DISCOVER},
#endif
#ifdef IPV6_MTU
    {"IPV6_MTU", IPV6_MTU},
#endif
#ifdef IPV6_RECVERR
    {"IPV6_RECVERR", IPV6_RECVERR},
#endif
#ifdef IPV6_V6ONLY
    {"IPV6_V6ONLY", IPV6_V6ONLY},
#endif
#ifdef IPV6_JOIN_ANYCAST
    {"IPV6_JOIN_ANYCAST", IPV6_JOIN_ANYCAST},
#endif
#ifdef IPV6_LEAVE_ANYCAST
    {"IPV6_LEAVE_ANYCAST", IPV6_LEAVE_ANYCAST},
#endif
#ifdef IPV6_MULTICAST_ALL
    {"IPV6_MULTICAST_ALL", IPV6_MULTICAST_ALL},
#endif
#ifdef IPV6_ROUTER_ALERT_ISOLATE
    {"IPV6_ROUTER_ALERT_ISOLATE", IPV6_ROUTER_ALERT_ISOLATE},
#endif
#ifdef IPV6_IPSEC_POLICY
    {"IPV6_IPSEC_POLICY", IPV6_IPSEC_POLICY},
#endif
#ifdef IPV6_XFRM_POLICY
    {"IPV6_XFRM_POLICY", IPV6_XFRM_POLICY},
#endif
#ifdef IPV6_HDRINCL
    {"IPV6_HDRINCL", IPV6_HDRINCL},
#endif
#ifdef IPV6_RECVPKTINFO
    {"IPV6_RECVPKTINFO", IPV6_RECVPKTINFO},
#endif
#ifdef IPV6_PKTINFO
    {"IPV6_PKTINFO", IPV6_PKTINFO},
#endif
#ifdef IPV6_RECVHOPLIMIT
    {"IPV6_RECVHOPLIMIT", IPV6_RECVHOPLIMIT},
#endif
#ifdef IPV6_HOPLIMIT
    {"IPV6_HOPLIMIT", IPV6_HOPLIMIT},
#endif
#ifdef IPV6_RECVHOPOPTS
    {"IPV6_RECVHOPOPTS", IPV6_RECVHOPOPTS},
#endif
#ifdef IPV6_HOPOPTS
    {"IPV6_HOPOPTS", IPV6_HOPOPTS},
#endif
#ifdef IPV6_RTHDRDSTOPTS
    {"IPV6_RTHDRDSTOPTS", IPV6_RTHDRDSTOPTS},
#endif
#ifdef IPV6_RECVRTHDR
    {"IPV6_RECVRTHDR", IPV6_RECVRTHDR},
#endif
#ifdef IPV6_RTHDR
    {"IPV6_RTHDR", IPV6_RTHDR},
#endif
#ifdef IPV6_RECVDSTOPTS
    {"IPV6_RECVDSTOPTS", IPV6_RECVDSTOPTS},
#endif
#ifdef IPV6_DSTOPTS
    {"IPV6_DSTOPTS", IPV6_DSTOPTS},
#endif
#ifdef IPV6_RECVPATHMTU
    {"IPV6_RECVPATHMTU", IPV6_RECVPATHMTU},
#endif
#ifdef IPV6_PATHMTU
    {"IPV6_PATHMTU", IPV6_PATHMTU},
#endif
#ifdef IPV6_DONTFRAG
    {"IPV6_DONTFRAG", IPV6_DONTFRAG},
#endif
#ifdef IPV6_RECVTCLASS
    {"IPV6_RECVTCLASS", IPV6_RECVTCLASS},
#endif
#ifdef IPV6_TCLASS
    {"IPV6_TCLASS", IPV6_TCLASS},
#endif
#ifdef IPV6_AUTOFLOWLABEL
    {"IPV6_AUTOFLOWLABEL", IPV6_AUTOFLOWLABEL},
#endif
#ifdef IPV6_ADDR_PREFERENCES
    {"IPV6_ADDR_PREFERENCES", IPV6_ADDR_PREFERENCES},
#endif
#ifdef IPV6_MINHOPCOUNT
    {"IPV6_MINHOPCOUNT", IPV6_MINHOPCOUNT},
#endif
#ifdef IPV6_ORIGDSTADDR
    {"IPV6_ORIGDSTADDR", IPV6_ORIGDSTADDR},
#endif
#ifdef IPV6_RECVORIGDSTADDR
    {"IPV6_RECVORIGDSTADDR", IPV6_RECVORIGDSTADDR},
#endif
#ifdef IPV6_TRANSPARENT
    {"IPV6_TRANSPARENT", IPV6_TRANSPARENT},
#endif
#ifdef IPV6_UNICAST_IF
    {"IPV6_UNICAST_IF", IPV6_UNICAST_IF},
#endif
#ifdef IPV6_RECVFRAGSIZE
    {"IPV6_RECVFRAGSIZE", IPV6_RECVFRAGSIZE},
#endif
#ifdef IPV6_FREEBIND
    {"IPV6_FREEBIND", IPV6_FREEBIND},
#endif
};

constexpr NamedValue kUdp[] = {
#ifdef UDP_CORK
    {"UDP_CORK", UDP_CORK},
#endif
#ifdef UDP_ENCAP
    {"UDP_ENCAP", UDP_ENCAP},
#endif
#ifdef UDP_NO_CHECK6_TX
    {"UDP_NO_CHECK6_TX", UDP_NO_CHECK6_TX},
#endif
#ifdef UDP_NO_CHECK6_RX
    {"UDP_NO_CHECK6_RX", UDP_NO_CHECK6_RX},
#endif
#ifdef UDP_SEGMENT
    {"UDP_SEGMENT", UDP_SEGMENT},
#endif
#ifdef UDP_GRO
    {"UDP_GRO", UDP_GRO},
#endif
};

// SOL_IP, SOL_TCP, ... are the kernel's aliases of the IPPROTO_* numbers; listed after them so
// that describe() prints the IPPROTO_* spelling most programs use.
constexpr NamedValue kLevels[] = {
    {"SOL_SOCKET", SOL_SOCKET},     {"IPPROTO_IP", IPPROTO_IP},   {"IPPROTO_IPV6", IPPROTO_IPV6},
    {"IPPROTO_TCP", IPPROTO_TCP},   {"IPPROTO_UDP", IPPROTO_UDP}, {"SOL_IP", SOL_IP},
    {"SOL_IPV6", SOL_IPV6},         {"SOL_TCP", SOL_TCP},         {"SOL_UDP", SOL_UDP},
};

struct LevelOptions {
  int level;
  std::span<const NamedValue> options;
};

constexpr LevelOptions kOptions[] = {
    {SOL_SOCKET, kSolSocket}, {IPPROTO_IP, kIp}, {IPPROTO_IPV6, kIpv6},
    {IPPROTO_TCP, kTcp},      {IPPROTO_UDP, kUdp},
};

}  // namespace

std::span<const NamedValue> sockopt_levels() noexcept { return kLevels; }

std::span<const NamedValue> sockopt_options(int level) noexcept {
  for (const LevelOptions& l : kOptions)
    if (l.level == level) return l.options;
  return {};
}

std::optional<SockoptName> find_sockopt(std::string_view name) noexcept {
  for (const LevelOptions& l : kOptions)
    if (const auto option = value_of(l.options, name)) return SockoptName{l.level, *option};
  return std::nullopt;
}

const char* suggest_sockopt(std::string_view wrong) {
  const char* best = nullptr;
  std::size_t best_distance = kMaxSuggestDistance + 1;
  for (const LevelOptions& l : kOptions) {
    const char* guess = closest_name(wrong, l.options);
    if (guess == nullptr) continue;
    const std::size_t d = edit_distance(wrong, guess);
    if (d < best_distance) {
      best = guess;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace filters
