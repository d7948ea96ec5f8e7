// bpfvm_bench: bpfvm::run against libpcap's own bpf_filter() on the same tcpdump-compiled
// programs (DLT_EN10MB, as tcpdump compiles for an Ethernet interface) and the same Ethernet
// frames. Driven by scripts/bench-bpfvm.sh; not a test.
//   bpfvm_bench list                      the expressions, one a line
//   bpfvm_bench check                     both engines agree on every expression and frame
//   bpfvm_bench count ENGINE I N          N passes over the frames with expression I (callgrind)
//   bpfvm_bench rate [ROUNDS] [MS]        packets/s of both engines, alternating, per expression
#include <pcap/pcap.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bpfvm/compile.h"
#include "bpfvm/interpreter.h"

namespace {

constexpr std::string_view kExpressions[] = {
    "tcp port 80",
    "ip and udp and dst port 53",
    "host 192.168.1.1 and (tcp or udp)",
    "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not src net 10.0.0.0/8 and "
    "(dst port 80 or dst port 443 or dst portrange 8000-8080)",
};

using Frame = std::vector<std::uint8_t>;

void put16(Frame& f, std::size_t at, std::size_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v);
}

// Ethernet + IPv4 (20 bytes) + a TCP (20) or UDP (8) header + payload; ICMP gets 8 bytes.
Frame ipv4(std::uint8_t proto, std::uint32_t src, std::uint32_t dst, std::uint16_t sport, std::uint16_t dport,
           std::uint8_t tcp_flags, std::size_t payload) {
  const std::size_t l4 = proto == 6 ? 20 : 8;
  Frame f(14 + 20 + l4 + payload, 0);
  for (std::size_t i = 0; i < 6; ++i) { f[i] = static_cast<std::uint8_t>(0x10 + i); f[6 + i] = static_cast<std::uint8_t>(0x20 + i); }
  put16(f, 12, 0x0800);
  f[14] = 0x45;
  put16(f, 16, 20 + l4 + payload);
  f[20] = 0x40;  // DF
  f[22] = 64;
  f[23] = proto;
  for (int i = 0; i < 4; ++i) {
    f[26 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
    f[30 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
  }
  if (proto == 1) { f[34] = 8; return f; }  // echo request
  put16(f, 34, sport);
  put16(f, 36, dport);
  if (proto == 6) { f[46] = 0x50; f[47] = tcp_flags; }
  else put16(f, 38, 8 + payload);
  for (std::size_t i = 0; i < payload; ++i) f[14 + 20 + l4 + i] = static_cast<std::uint8_t>(i);
  return f;
}

std::vector<Frame> frames() {
  constexpr std::uint32_t kClient = 0x0a010203, kServer = 0xc0a80101, kDns = 0x08080808, kOther = 0xac100005;
  std::vector<Frame> fs = {
      ipv4(6, kClient, kServer, 51000, 80, 0x02, 0),     // SYN to a web server
      ipv4(6, kServer, kClient, 80, 51000, 0x10, 100),   // its data back
      ipv4(17, kClient, kDns, 40000, 53, 0, 32),         // DNS query
      ipv4(17, kDns, kClient, 53, 40000, 0, 64),         // DNS answer
      ipv4(1, kClient, kDns, 0, 0, 0, 0),                // ping
      ipv4(6, kOther, 0x0a000009, 443, 8080, 0x11, 0),   // FIN to 8080 from outside 10/8
      ipv4(17, kOther, kServer, 5353, 5353, 0, 40),      // mDNS-like
  };
  Frame arp(42, 0);  // an ARP request: not IP at all
  std::fill(arp.begin(), arp.begin() + 6, 0xff);
  put16(arp, 12, 0x0806);
  fs.push_back(arp);
  Frame v6(14 + 40 + 20, 0);  // IPv6 + TCP to 443
  put16(v6, 12, 0x86dd);
  v6[14] = 0x60;
  put16(v6, 18, 20);
  v6[20] = 6;
  v6[21] = 64;
  put16(v6, 14 + 40, 50000);
  put16(v6, 14 + 40 + 2, 443);
  fs.push_back(v6);
  return fs;
}

struct Compiled {
  bpfvm::ValidatedProgram vm;
  std::vector<bpf_insn> pcap;  // the same instructions in libpcap's struct
};

Compiled compiled(std::string_view expr) {
  auto p = bpfvm::compile(expr, bpfvm::Linktype::kEn10mb);
  if (!p) { std::fprintf(stderr, "bpfvm_bench: %s\n", p.error().message.c_str()); std::exit(1); }
  std::vector<bpf_insn> pc;
  for (const bpfvm::Instruction& in : *p) pc.push_back(bpf_insn{in.code, in.jt, in.jf, in.k});
  auto v = bpfvm::validate(std::move(*p));
  if (!v) { std::fprintf(stderr, "bpfvm_bench: %s does not validate\n", std::string(expr).c_str()); std::exit(1); }
  return Compiled{std::move(*v), std::move(pc)};
}

// Each engine gets its input as it wants it, prepared once: bpfvm a Context per frame (as a
// caller filtering many packets would keep one), bpf_filter a pointer and two lengths.
struct Input {
  const Frame* frame;
  bpfvm::Context ctx;
};

std::vector<Input> inputs(const std::vector<Frame>& fs) {
  std::vector<Input> in;
  for (const Frame& f : fs) {
    bpfvm::Context ctx;
    ctx.packet = f;
    in.push_back({&f, ctx});
  }
  return in;
}

std::uint32_t run_vm(const Compiled& c, const Input& in) { return bpfvm::run(c.vm, in.ctx); }

std::uint32_t run_pcap(const Compiled& c, const Input& in) {
  const auto n = static_cast<u_int>(in.frame->size());
  return bpf_filter(c.pcap.data(), in.frame->data(), n, n);
}

template <class Engine>
std::uint64_t passes(const Compiled& c, const std::vector<Input>& in, std::uint64_t n, Engine engine) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i)
    for (const Input& one : in) sum += engine(c, one);
  return sum;
}

int cmd_check() {
  const auto fs = frames();
  const auto in = inputs(fs);
  int bad = 0;
  for (std::string_view e : kExpressions) {
    const Compiled c = compiled(e);
    std::size_t accepted = 0;
    for (std::size_t i = 0; i < fs.size(); ++i) {
      const std::uint32_t a = run_vm(c, in[i]), b = run_pcap(c, in[i]);
      accepted += a != 0;
      if (a != b) { std::printf("DISAGREE '%.*s' frame %zu: bpfvm %u bpf_filter %u\n", int(e.size()), e.data(), i, a, b); ++bad; }
    }
    std::printf("%zu insns, accepts %zu of %zu frames: %.*s\n", c.pcap.size(), accepted, fs.size(), int(e.size()), e.data());
  }
  return bad == 0 ? 0 : 1;
}

int cmd_count(std::string_view engine, std::size_t index, std::uint64_t n) {
  if (index >= std::size(kExpressions)) { std::fprintf(stderr, "bpfvm_bench: no expression %zu\n", index); return 2; }
  const auto fs = frames();
  const auto in = inputs(fs);
  const Compiled c = compiled(kExpressions[index]);
  std::uint64_t sum = 0;
  if (engine == "bpfvm") sum = passes(c, in, n, run_vm);
  else if (engine == "pcap") sum = passes(c, in, n, run_pcap);
  else { std::fprintf(stderr, "bpfvm_bench: engine is bpfvm or pcap\n"); return 2; }
  std::printf("frames=%zu passes=%llu sum=%llu\n", fs.size(), static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(sum));
  return 0;
}

// Rounds alternate the engines so both see the same machine; each round runs ~MS milliseconds.
int cmd_rate(int rounds, int ms) {
  const auto fs = frames();
  const auto in = inputs(fs);
  using Clock = std::chrono::steady_clock;
  for (std::size_t i = 0; i < std::size(kExpressions); ++i) {
    const Compiled c = compiled(kExpressions[i]);
    auto rate = [&](auto engine) {  // packets/s over one round
      std::uint64_t n = 0, sink = 0;
      const auto start = Clock::now(), end = start + std::chrono::milliseconds(ms);
      Clock::time_point now;
      do { sink += passes(c, in, 1000, engine); n += 1000 * in.size(); } while ((now = Clock::now()) < end);
      if (sink == 1) std::puts("");  // keeps the work observable
      return static_cast<double>(n) / std::chrono::duration<double>(now - start).count();
    };
    std::vector<double> vm, pc;
    for (int r = 0; r < rounds; ++r) { vm.push_back(rate(run_vm)); pc.push_back(rate(run_pcap)); }
    std::sort(vm.begin(), vm.end());
    std::sort(pc.begin(), pc.end());
    const double mv = vm[vm.size() / 2], mp = pc[pc.size() / 2];
    std::printf("%zu\t%.0f\t%.0f\t%.2f\n", i, mv, mp, mv / mp);
  }
  return 0;
}

void usage(std::FILE* to) {
  std::fputs("usage: bpfvm_bench list | check | count bpfvm|pcap INDEX PASSES | rate [ROUNDS] [MS]\n"
             "  list    the tcpdump expressions (index, then text)\n"
             "  check   bpfvm::run and bpf_filter() agree on every expression and frame\n"
             "  count   PASSES passes over the frames with one engine, for callgrind\n"
             "  rate    median packets/s of both engines, alternating (default 7 rounds of 200 ms)\n"
             "          prints: index, bpfvm pkt/s, bpf_filter pkt/s, ratio\n",
             to);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> a(argv + 1, argv + argc);
  if (a.empty()) { usage(stderr); return 2; }
  if (a[0] == "-h" || a[0] == "--help") { usage(stdout); return 0; }
  if (a[0] == "list") {
    for (std::size_t i = 0; i < std::size(kExpressions); ++i)
      std::printf("%zu\t%.*s\n", i, int(kExpressions[i].size()), kExpressions[i].data());
    return 0;
  }
  if (a[0] == "check") return cmd_check();
  if (a[0] == "count" && a.size() == 4)
    return cmd_count(a[1], std::strtoul(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10));
  if (a[0] == "rate" && a.size() <= 3)
    return cmd_rate(a.size() > 1 ? std::atoi(argv[2]) : 7, a.size() > 2 ? std::atoi(argv[3]) : 200);
  usage(stderr);
  return 2;
}
