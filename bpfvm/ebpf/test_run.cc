#include "bpfvm/ebpf/test_run.h"

#include <algorithm>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include "bpfvm/ebpf/bpf_syscalls.h"
#include "bpfvm/ebpf/translate.h"

namespace bpfvm::ebpf {
namespace {

constexpr std::uint32_t kEthP8023Min = 0x0600, kEthP8023 = 0x0001, kEthP8022 = 0x0004;
constexpr std::uint32_t kPacketHost = 0, kPacketMulticast = 2, kPacketOtherHost = 3;

// eth_type_trans(): the EtherType, or for an 802.3 length field, raw 802.3 (IPX's 0xFFFF
// checksum right after the header) or 802.2 LLC.
std::uint32_t eth_protocol(std::span<const std::uint8_t> f) {
  const std::uint32_t type = (std::uint32_t{f[12]} << 8) | f[13];
  if (type >= kEthP8023Min) return type;
  if (f.size() >= kEthHeader + 2 && f[kEthHeader] == 0xff && f[kEthHeader + 1] == 0xff) return kEthP8023;
  return kEthP8022;
}

// eth_type_trans() against the loopback device. Its address is 00:00:00:00:00:00 and so is its
// broadcast address (loopback_setup() sets none), so ff:ff:ff:ff:ff:ff is PACKET_MULTICAST there,
// not PACKET_BROADCAST (the kernel's answer, checked by the ancillary test case).
std::uint32_t eth_pkttype(std::span<const std::uint8_t> f) {
  const auto dst = f.first(6);
  if (std::all_of(dst.begin(), dst.end(), [](std::uint8_t b) { return b == 0; })) return kPacketHost;
  return (dst[0] & 1) ? kPacketMulticast : kPacketOtherHost;
}

}  // namespace

LoadedProgram::~LoadedProgram() {
  if (fd_ >= 0) close(fd_);
}

std::optional<std::string> TestRunOracle::unavailable() {
  if (!sys::available()) return "built without libbpf";
  const std::string who = geteuid() == 0 ? "" : " (not root)";
  // ldb [0]; ret a: a packet load, as every real filter has.
  auto probe = validate({{kLd | kB | kAbs, 0, 0, 0}, {kRet | kA, 0, 0, 0}});
  if (!probe) return "probe program refused by validate()";
  auto insns = translate(*probe);
  if (!insns) return insns.error().message;
  auto fd = sys::load_socket_filter(*insns);
  if (!fd) return "the kernel refuses to load a socket filter" + who + ": " + fd.error().substr(0, fd.error().find('\n'));
  const LoadedProgram prog(*fd);
  const std::uint8_t frame[kEthHeader + 1] = {0};
  auto ret = sys::test_run(prog.fd(), frame, 0);
  if (!ret) return ret.error() + who;
  return std::nullopt;
}

Expected<std::unique_ptr<TestRunOracle>, std::string> TestRunOracle::open() {
  const int cpu = sched_getcpu();
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) CPU_SET(cpu, &set);
  if (cpu < 0 || sched_setaffinity(0, sizeof set, &set) != 0) return unexpected(std::string("cannot pin to a CPU"));
  const unsigned lo = if_nametoindex("lo");
  if (lo == 0) return unexpected(std::string("no loopback device"));
  return std::unique_ptr<TestRunOracle>(new TestRunOracle(static_cast<std::uint32_t>(cpu), lo));
}

Expected<LoadedProgram, std::string> TestRunOracle::load(const ValidatedProgram& program) const {
  auto insns = translate(program);
  if (!insns)
    return unexpected("instruction " + std::to_string(insns.error().insn_index) + ": " + insns.error().message);
  auto fd = sys::load_socket_filter(*insns);
  if (!fd) return unexpected(fd.error());
  return LoadedProgram(*fd);
}

Expected<std::uint32_t, std::string> TestRunOracle::run(const LoadedProgram& program,
                                                        std::span<const std::uint8_t> frame,
                                                        std::uint32_t mark) const {
  return sys::test_run(program.fd(), frame, mark);
}

Context TestRunOracle::context(std::span<const std::uint8_t> frame, std::uint32_t mark) const {
  Context c;
  c.ll = frame;
  c.net = frame.subspan(kEthHeader);
  c.packet = frame.subspan(kEthHeader);
  c.anc.protocol = eth_protocol(frame);
  c.anc.pkttype = eth_pkttype(frame);
  c.anc.ifindex = lo_ifindex_;  // the test run's skb->dev is the namespace's loopback device
  c.anc.mark = mark;
  c.anc.cpu = cpu_;
  return c;
}

}  // namespace bpfvm::ebpf
