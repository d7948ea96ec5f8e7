// libFuzzer target: a stack with a listening TCP endpoint (port 80) on a raw-IP channel link,
// driven by a script of records decoded from the input. Segments get valid IPv4 headers and
// valid TCP checksums, so every input reaches the TCP layer; their sequence and acknowledgment
// numbers may be chosen relative to the real connection (the fuzzer's own next sequence number,
// the stack's last one seen on the wire), so handshakes complete and data, FIN and RST land in
// the window. Everything the stack sends must be a well-formed IPv4/TCP packet with good
// checksums; any crash, sanitizer report or malformed output is a finding.
//
// Records (op = first byte % 8; numbers big-endian; a short record ends the script):
//   0-3 segment: port(1) flags(1) mode(1) seq(2|4) ack(2|4) window(2) optlen(1) opts payload_len(1) payload
//        mode bit 0: seq is a signed 16-bit offset from the fuzzer's next sequence number
//             bit 1: ack is a signed 16-bit offset from the stack's next sequence number
//             bit 2: afterwards advance the fuzzer's next sequence number by the segment length
//        (otherwise seq/ack are 32-bit raw values)
//   4    raw TCP bytes: len(1) bytes; IPv4 header and checksum made valid around them
//   5    time: amount(1), the fake clock advances amount * 16 ms, timers run
//   6    user call: which(1) arg(1) on accepted endpoint arg % 4 (accept, read, write, shutdown,
//        close, options, active connect to the fuzzer's side)
//   7    time jump: 2^(amount % 8) seconds, reaching RTO backoff, TIME-WAIT and keepalive
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "netstack/header/byte_order.h"
#include "netstack/header/checksum.h"
#include "netstack/header/ipv4.h"
#include "netstack/header/tcp.h"
#include "netstack/link/channel.h"
#include "netstack/stack/stack.h"
#include "netstack/transport/tcp/protocol.h"

using namespace netstack;

namespace {

const Ipv4Address kPeer = Ipv4Address::from_octets(10, 0, 0, 1);   // the fuzzer's side
const Ipv4Address kLocal = Ipv4Address::from_octets(10, 0, 0, 2);  // the stack
constexpr std::uint16_t kListenPort = 80;

class Reader {
 public:
  Reader(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool has(std::size_t k) const { return k <= n_ - at_; }
  std::uint8_t u8() { return has(1) ? d_[at_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(u16()) << 16 | u16(); }
  std::span<const std::uint8_t> bytes(std::size_t k) {
    k = std::min(k, n_ - at_);
    std::span<const std::uint8_t> s(d_ + at_, k);
    at_ += k;
    return s;
  }
  bool done() const { return at_ >= n_; }

 private:
  const std::uint8_t* d_;
  std::size_t n_, at_ = 0;
};

struct Flow {
  std::uint32_t our_next = 1000;    // the fuzzer's next sequence number
  std::uint32_t stack_next = 0;     // the stack's next, from its last segment on the wire
  std::uint16_t stack_port = kListenPort;  // the stack's port: the listener's, or an active open's
};

struct World {
  FakeClock clock;
  link::ChannelEndpoint link{1500, LinkMedium::kRawIp};
  Stack stack{clock};
  std::unique_ptr<Endpoint> listener;
  std::vector<std::unique_ptr<Endpoint>> accepted;
  std::map<std::uint16_t, Flow> flows;  // by the fuzzer's port

  World() {
    tcp::ProtocolOptions po;
    po.isn_key = 1;  // reproducible ISNs: a finding replays from its input alone
    (void)stack.register_transport_protocol(tcp::make_protocol(po));
    (void)stack.create_nic(1, link);
    (void)stack.add_address(1, Subnet{kLocal, 24});
    stack.add_route(RouteEntry{Subnet{Ipv4Address{}, 0}, {}, 1});
    listener = std::move(stack.new_endpoint(tcp::kProtocolNumber).value());
    (void)listener->bind(FullAddress{kAnyNic, Ipv4Address{}, kListenPort});
    (void)listener->listen(4);
  }

  // Wraps transport bytes in a valid IPv4 header and delivers them; fixes the TCP checksum
  // when the bytes are long enough to hold one.
  void inject(std::vector<std::byte> tcp) {
    if (tcp.size() >= 18) {
      header::store_be16(tcp, 16, 0);
      const std::uint16_t sum = header::checksum(
          tcp, header::pseudo_header_checksum(6, kPeer, kLocal, static_cast<std::uint16_t>(tcp.size())));
      header::store_be16(tcp, 16, header::finish(sum));
    }
    std::vector<std::byte> frame(header::Ipv4View::kMinSize + tcp.size());
    header::Ipv4Fields ip;
    ip.total_length = static_cast<std::uint16_t>(frame.size());
    ip.ttl = 64;
    ip.protocol = 6;
    ip.src = kPeer;
    ip.dst = kLocal;
    header::emit(ip, frame);
    if (!tcp.empty()) std::memcpy(frame.data() + header::Ipv4View::kMinSize, tcp.data(), tcp.size());
    link.inject(ByteView(frame.data(), frame.size()));
    drain();
  }

  // Reads what the stack sent: each must be valid IPv4 + TCP with good checksums; remembers
  // the stack's next sequence number per flow.
  void drain() {
    for (int i = 0; i < 4096; ++i) {
      auto f = link.read_outbound();
      if (!f) return;
      const ByteView bytes = f->view();
      auto ip = header::Ipv4View::parse(bytes);
      if (!ip || !ip->checksum_valid() || ip->protocol() != 6) __builtin_trap();
      auto tcp = header::TcpView::parse(ip->payload());
      if (!tcp || !tcp->checksum_valid(ip->src(), ip->dst())) __builtin_trap();
      Flow& fl = flows[tcp->dst_port()];
      std::uint32_t len = static_cast<std::uint32_t>(tcp->payload().size());
      if (tcp->flags() & header::kTcpFlagSyn) ++len;
      if (tcp->flags() & header::kTcpFlagFin) ++len;
      fl.stack_next = tcp->seq_number() + len;
      fl.stack_port = tcp->src_port();
    }
  }

  void segment(Reader& r) {
    const std::uint16_t port = static_cast<std::uint16_t>(40000 + r.u8() % 4);
    const std::uint8_t flags = r.u8(), mode = r.u8();
    Flow& fl = flows[port];
    const std::uint32_t seq = (mode & 1) ? fl.our_next + static_cast<std::uint32_t>(static_cast<std::int16_t>(r.u16()))
                                         : r.u32();
    const std::uint32_t ack = (mode & 2) ? fl.stack_next + static_cast<std::uint32_t>(static_cast<std::int16_t>(r.u16()))
                                         : r.u32();
    const std::uint16_t window = r.u16();
    const std::size_t optlen = std::min<std::size_t>(r.u8(), 40);
    auto opts = r.bytes(optlen);
    const std::size_t hlen = 20 + (opts.size() + 3) / 4 * 4;
    auto payload = r.bytes(r.u8() * 8u);
    std::vector<std::byte> tcp(hlen + payload.size());
    header::store_be16(tcp, 0, port);
    header::store_be16(tcp, 2, fl.stack_port);
    header::store_be32(tcp, 4, seq);
    header::store_be32(tcp, 8, ack);
    tcp[12] = static_cast<std::byte>((hlen / 4) << 4);
    tcp[13] = static_cast<std::byte>(flags);
    header::store_be16(tcp, 14, window);
    std::memcpy(tcp.data() + 20, opts.data(), opts.size());  // the rest of the padding stays 0 (EOL)
    std::memcpy(tcp.data() + hlen, payload.data(), payload.size());
    if (mode & 4) {
      std::uint32_t len = static_cast<std::uint32_t>(payload.size());
      if (flags & header::kTcpFlagSyn) ++len;
      if (flags & header::kTcpFlagFin) ++len;
      fl.our_next = seq + len;
    }
    inject(std::move(tcp));
  }

  void raw(Reader& r) {
    auto b = r.bytes(r.u8());
    std::vector<std::byte> tcp(b.size());
    if (!b.empty()) std::memcpy(tcp.data(), b.data(), b.size());
    inject(std::move(tcp));
  }

  void advance(Duration d) {
    clock.advance(d);
    stack.run_due();
    drain();
  }

  void user_call(Reader& r) {
    const std::uint8_t which = r.u8(), arg = r.u8();
    if (which % 8 == 0) {
      auto ep = listener->accept();
      if (ep && accepted.size() < 4) accepted.push_back(std::move(ep.value()));
      drain();
      return;
    }
    if (which % 8 == 7) {  // an active open towards the fuzzer's side
      auto ep = stack.new_endpoint(tcp::kProtocolNumber);
      if (ep && accepted.size() < 4) {
        (void)ep.value()->connect(FullAddress{kAnyNic, kPeer, static_cast<std::uint16_t>(40000 + arg % 4)});
        accepted.push_back(std::move(ep.value()));
      }
      drain();
      return;
    }
    if (accepted.empty()) return;
    const std::size_t i = arg % accepted.size();
    Endpoint& ep = *accepted[i];
    std::byte buf[4096];
    switch (which % 8) {
      case 1:
        (void)ep.read(std::span(buf, 1u + arg * 16u));
        break;
      case 2:
        std::memset(buf, arg, sizeof buf);
        (void)ep.write(ByteView(buf, 1u + arg * 16u), WriteOptions{});
        break;
      case 3:
        (void)ep.shutdown(static_cast<std::uint8_t>(1 + arg % 3));
        break;
      case 4:
        ep.close();
        accepted.erase(accepted.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      case 5:
        (void)ep.set_sock_opt(static_cast<SockOpt>(arg % 14), arg / 14);
        (void)ep.get_sock_opt(static_cast<SockOpt>(arg % 14));
        (void)ep.readiness(kEventIn | kEventOut | kEventErr | kEventHup);
        break;
      default:
        (void)ep.peek(std::span(buf, 64));
        break;
    }
    drain();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  World w;  // fresh per input: findings reproduce from the input alone
  Reader r(data, size);
  for (int records = 0; records < 256 && !r.done(); ++records) {
    const std::uint8_t op = r.u8() % 8;
    if (op < 4) {
      w.segment(r);
    } else if (op == 4) {
      w.raw(r);
    } else if (op == 5) {
      w.advance(std::chrono::milliseconds(16) * r.u8());
    } else if (op == 6) {
      w.user_call(r);
    } else {
      w.advance(std::chrono::seconds(1) * (1 << (r.u8() % 8)));
    }
  }
  // Let every timer run out (retransmissions give up, TIME-WAIT ends), bounded.
  for (int i = 0; i < 24; ++i) w.advance(std::chrono::seconds(30));
  w.accepted.clear();
  w.advance(std::chrono::seconds(130));
  return 0;
}
