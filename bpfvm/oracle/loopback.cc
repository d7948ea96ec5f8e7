#include "bpfvm/oracle/loopback.h"

#include <arpa/inet.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bpfvm/interpreter.h"

namespace bpfvm::oracle {
namespace {

constexpr std::size_t kUdpHeader = 8;      // sk_filter_trim_cap's cap for UDP
constexpr std::uint32_t kArphrdLoopback = 772;
constexpr std::uint32_t kEthPIp = 0x0800;

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int bound_udp(std::uint16_t& port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

}  // namespace

std::optional<std::string> LoopbackOracle::unavailable() {
  std::uint16_t port = 0;
  const int fd = bound_udp(port);
  if (fd < 0) return "no loopback UDP socket: " + std::string(strerror(errno));
  sock_filter ret[] = {{static_cast<std::uint16_t>(kRet | kK), 0, 0, 0xffff}};
  sock_fprog prog{1, ret};
  const int rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
  const int err = errno;
  close(fd);
  if (rc != 0) return "SO_ATTACH_FILTER refused: " + std::string(strerror(err));
  return std::nullopt;
}

std::string to_string(const Outcome& o) {
  if (o.refused) return "refused (errno " + std::to_string(o.error) + ")";
  if (o.dropped) return "dropped";
  return "delivered " + std::to_string(o.payload_len) + " payload bytes";
}

Expected<std::unique_ptr<LoopbackOracle>, std::string> LoopbackOracle::open() {
  std::unique_ptr<LoopbackOracle> self(new LoopbackOracle());
  LoopbackOracle& o = *self;
  // Both datagrams of a case then queue on this CPU's backlog in order, so once the sentinel
  // (sent second) has arrived, the test datagram has been filtered. stray() checks that.
  const int cpu = sched_getcpu();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (cpu < 0 || sched_setaffinity(0, sizeof set, &set) != 0) return unexpected(std::string("cannot pin to a CPU"));
  o.rx_ = bound_udp(o.rx_port_);
  o.tx_ = bound_udp(o.tx_port_);
  o.sentinel_ = bound_udp(o.sentinel_port_);
  if (o.rx_ < 0 || o.tx_ < 0 || o.sentinel_ < 0) return unexpected(std::string("cannot open loopback UDP sockets"));
  const int one = 1, ttl = 64, pmtu = IP_PMTUDISC_DO;
  // No UDP checksum (the field reads 0), DF set so an unconnected sender's IP ID is 0, TTL 64:
  // the headers the filter sees are then fully known.
  setsockopt(o.tx_, SOL_SOCKET, SO_NO_CHECK, &one, sizeof one);
  setsockopt(o.tx_, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  setsockopt(o.tx_, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
  int big = 1 << 20;
  setsockopt(o.rx_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  o.anc_.protocol = kEthPIp;
  o.anc_.pkttype = 0;  // PACKET_HOST
  o.anc_.ifindex = if_nametoindex("lo");
  o.anc_.hatype = kArphrdLoopback;
  o.anc_.cpu = static_cast<std::uint32_t>(cpu);
  // skb_get_poff() from skb->data, which a UDP socket's filter sees at the UDP header: the
  // payload starts 8 bytes in (measured by the "ancillary values" case).
  o.anc_.pay_offset = kUdpHeader;
  return self;
}

LoopbackOracle::~LoopbackOracle() {
  for (int fd : {rx_, tx_, sentinel_})
    if (fd >= 0) close(fd);
}

std::vector<std::uint8_t> LoopbackOracle::udp_packet(const std::vector<std::uint8_t>& payload) const {
  // Sized once, payload copied in place: growing an 8-byte vector with insert() made GCC 12 at -O3
  // report a false -Warray-bounds in the reallocation.
  std::vector<std::uint8_t> b(kUdpHeader + payload.size(), 0);
  put16(b, 0, tx_port_);
  put16(b, 2, rx_port_);
  put16(b, 4, static_cast<std::uint32_t>(kUdpHeader + payload.size()));
  std::copy(payload.begin(), payload.end(), b.begin() + kUdpHeader);  // checksum stays 0 (SO_NO_CHECK)
  return b;
}

std::vector<std::uint8_t> LoopbackOracle::ip_packet(const std::vector<std::uint8_t>& payload) const {
  std::vector<std::uint8_t> b = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, IPPROTO_UDP, 0, 0,
                                 127, 0, 0, 1, 127, 0, 0, 1};
  const auto udp = udp_packet(payload);
  put16(b, 2, static_cast<std::uint32_t>(b.size() + udp.size()));
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) sum += static_cast<std::uint32_t>(b[i] << 8 | b[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(b, 10, ~sum & 0xffff);
  b.insert(b.end(), udp.begin(), udp.end());
  return b;
}

std::vector<std::uint8_t> LoopbackOracle::eth_packet(const std::vector<std::uint8_t>& payload) const {
  std::vector<std::uint8_t> b(14, 0);  // lo's addresses are all zero; eth_header writes the type
  put16(b, 12, kEthPIp);
  const auto ip = ip_packet(payload);
  b.insert(b.end(), ip.begin(), ip.end());
  return b;
}

Outcome LoopbackOracle::predict(const Program& p, const std::vector<std::uint8_t>& payload) const {
  Outcome o;
  auto v = validate(p);
  if (!v) { o.refused = true; o.error = EINVAL; return o; }
  const auto udp = udp_packet(payload), ip = ip_packet(payload), eth = eth_packet(payload);
  Context ctx;
  ctx.packet = udp;
  ctx.net = std::span<const std::uint8_t>(ip);
  ctx.ll = std::span<const std::uint8_t>(eth);
  ctx.anc = anc_;
  const std::uint32_t ret = run(*v, ctx);
  if (ret == 0) { o.dropped = true; return o; }
  o.payload_len = std::min<std::size_t>(udp.size(), std::max<std::size_t>(ret, kUdpHeader)) - kUdpHeader;
  return o;
}

Expected<Outcome, std::string> LoopbackOracle::kernel(const Program& p, const std::vector<std::uint8_t>& payload) {
  Outcome o;
  std::vector<sock_filter> f;
  for (const Instruction& in : p) f.push_back({in.code, in.jt, in.jf, in.k});
  sock_fprog prog{static_cast<unsigned short>(p.size()), f.empty() ? nullptr : f.data()};
  if (p.size() > 0xffff) prog.len = 0xffff;
  if (setsockopt(rx_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
    o.refused = true;
    o.error = errno;
    return o;
  }
  std::vector<std::uint8_t> buf(65536);
  while (recv(rx_, buf.data(), buf.size(), MSG_DONTWAIT) >= 0) ++stray_;
  const sockaddr_in to = loopback(rx_port_), mark = loopback(sentinel_port_);
  const std::uint8_t s = 's';
  if (sendto(tx_, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0 ||
      sendto(tx_, &s, 1, 0, reinterpret_cast<const sockaddr*>(&mark), sizeof mark) < 0)
    return unexpected("sendto on loopback failed: " + std::string(strerror(errno)));
  pollfd pf{sentinel_, POLLIN, 0};
  if (poll(&pf, 1, 2000) != 1) return unexpected(std::string("the sentinel datagram did not arrive"));
  recv(sentinel_, buf.data(), buf.size(), 0);
  const ssize_t n = recv(rx_, buf.data(), buf.size(), MSG_DONTWAIT);
  if (n < 0) o.dropped = true;
  else o.payload_len = static_cast<std::size_t>(n);
  return o;
}

}  // namespace bpfvm::oracle
