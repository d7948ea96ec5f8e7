#include "shim/cmd/capture_writer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <vector>

namespace shim::cmd {

namespace {

constexpr std::size_t kBatch = 1024;   // records per batch: one flush of the file each
constexpr std::int64_t kRecheckNs = 10'000'000;   // how often closed sockets due a question are asked

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

// The kernel's sock_diag (NETLINK_SOCK_DIAG, what `ss` asks), one TCP socket at a time by its
// addresses and SO_COOKIE: an answer with inode 0 means no file refers to the socket any more
// (its last descriptor was closed, in whichever process: the kernel sent its FIN), no answer
// (ENOENT, or ESTALE: another socket on those addresses) that it is gone. No privilege needed.
class SockDiag {
 public:
  SockDiag() : fd_(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) {
    const timeval tv{1, 0};   // never hang the writer on a kernel that does not answer
    if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~SockDiag() {
    if (fd_ >= 0) close(fd_);
  }
  SockDiag(const SockDiag&) = delete;
  SockDiag& operator=(const SockDiag&) = delete;
  Held held(const capture::RecordHead& r);

 private:
  int fd_;
  std::uint32_t seq_ = 0;
};

Held SockDiag::held(const capture::RecordHead& r) {
  if (fd_ < 0 || (r.sock >> 63)) return Held::kUnknown;   // an inode number: not a cookie to ask by
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;   // no NLM_F_DUMP: the one socket of this id and cookie
  msg.nlh.nlmsg_seq = ++seq_;
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  // An IPv6 socket talking to a mapped address is found by its IPv4 addresses, as the kernel hashes it.
  const bool v4 = std::memcmp(r.local, kMapped, 12) == 0 && std::memcmp(r.peer, kMapped, 12) == 0;
  msg.req.sdiag_family = v4 ? AF_INET : AF_INET6;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0u;
  msg.req.id.idiag_sport = htons(r.local_port);
  msg.req.id.idiag_dport = htons(r.peer_port);
  std::memcpy(msg.req.id.idiag_src, v4 ? r.local + 12 : r.local, v4 ? 4 : 16);
  std::memcpy(msg.req.id.idiag_dst, v4 ? r.peer + 12 : r.peer, v4 ? 4 : 16);
  msg.req.id.idiag_cookie[0] = static_cast<std::uint32_t>(r.sock);
  msg.req.id.idiag_cookie[1] = static_cast<std::uint32_t>(r.sock >> 32);
  if (send(fd_, &msg, sizeof msg, 0) != static_cast<ssize_t>(sizeof msg)) return Held::kUnknown;
  alignas(nlmsghdr) char buf[8192];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Held::kUnknown;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq_) continue;   // the late answer to an earlier question
      if (h->nlmsg_type == NLMSG_ERROR) {
        const int e = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
        return e == ENOENT || e == ESTALE ? Held::kNo : Held::kUnknown;
      }
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && h->nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg)))
        return static_cast<const inet_diag_msg*>(NLMSG_DATA(h))->idiag_inode != 0 ? Held::kYes : Held::kNo;
    }
  }
}

std::unique_ptr<CaptureWriter> CaptureWriter::start(const std::string& pcap_path, const std::string& ring_path,
                                                    std::uint64_t slots, std::string* error) {
  std::unique_ptr<CaptureWriter> w(new CaptureWriter());
  w->ring_path_ = ring_path;
  w->size_ = capture::ring_bytes(slots);
  const int fd = open(ring_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    *error = "cannot create the capture ring " + ring_path + ": " + std::strerror(errno);
    return nullptr;
  }
  if (ftruncate(fd, static_cast<off_t>(w->size_)) != 0) {
    *error = "cannot size the capture ring " + ring_path + ": " + std::strerror(errno);
    close(fd);
    unlink(ring_path.c_str());
    return nullptr;
  }
  w->mem_ = mmap(nullptr, w->size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (w->mem_ == MAP_FAILED) {
    w->mem_ = nullptr;
    *error = "cannot map the capture ring: " + std::string(std::strerror(errno));
    unlink(ring_path.c_str());
    return nullptr;
  }
  w->ring_ = capture::format_ring(w->mem_, slots, static_cast<std::uint32_t>(geteuid()));
  w->diag_ = std::make_unique<SockDiag>();
  w->builder_ = PacketBuilder([d = w->diag_.get()](const capture::RecordHead& r) { return d->held(r); });
  // The snapshot length says what a packet may hold: a 64 KiB datagram with its IPv6 header is
  // more than 65535 bytes (262144 is what tcpdump and Wireshark use).
  w->pcap_ = pcap_open_dead_with_tstamp_precision(DLT_RAW, 262144, PCAP_TSTAMP_PRECISION_NANO);
  // Our own FILE with a 1 MiB buffer: libpcap writes a packet with two fwrite calls, and stdio's
  // default buffer would make that a write(2) for every few packets of a bulk transfer.
  FILE* f = std::fopen(pcap_path.c_str(), "wb");
  if (!f) {
    *error = "cannot write " + pcap_path + ": " + std::strerror(errno);
    return nullptr;   // the destructor removes the ring
  }
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  if (w->pcap_) w->dumper_ = pcap_dump_fopen(w->pcap_, f);
  if (!w->dumper_) {
    *error = "cannot write " + pcap_path + ": " + (w->pcap_ ? pcap_geterr(w->pcap_) : "libpcap failed");
    std::fclose(f);
    return nullptr;
  }
  pcap_dump_flush(w->dumper_);   // the file header: readable (empty) from the start
  w->thread_ = std::thread([p = w.get()] { p->loop(); });
  return w;
}

CaptureWriter::~CaptureWriter() {
  finish();
  if (mem_) munmap(mem_, size_);
}

void CaptureWriter::loop() {
  // At once again while a batch fills its limit, after 0.5 ms while records come, after 5 ms
  // when none came: a busy program fills 4 096 slots in a few milliseconds (docs/performance.md).
  while (!stop_.load(std::memory_order_acquire)) {
    const std::size_t n = drain_once(false);
    if (n == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    else if (n < kBatch)
      std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

std::size_t CaptureWriter::drain_once(bool final) {
  std::vector<Packet> packets;
  // Closed sockets that a process may still hold: asked about before the drain, so that the
  // records their holders made before letting go are in the ring by then (below probe_head_).
  std::int64_t now = now_ns();
  if (!final && builder_.rechecks_pending() && !probed_ && now - last_recheck_ >= kRecheckNs) {
    builder_.probe_pending(now);
    probe_head_ = ring_.header->head.load(std::memory_order_acquire);
    probed_ = true;
    last_recheck_ = now;
  }
  const std::size_t n = capture::drain(
      ring_,
      [&](const capture::RecordHead& r, const std::byte* payload) {
        ++totals_.records;
        builder_.add(r, {payload, r.len}, packets);
      },
      final, final ? SIZE_MAX : kBatch);
  if (probed_ && static_cast<std::int64_t>(ring_.header->tail.load(std::memory_order_relaxed) - probe_head_) >= 0) {
    builder_.close_released(packets);
    probed_ = false;
  }
  now = now_ns();
  if (final) builder_.finish(now, packets);   // the producers are gone: nothing more will come
  for (const Packet& p : packets) {
    pcap_pkthdr hdr{};
    hdr.ts.tv_sec = static_cast<time_t>(p.t_ns / 1000000000);
    hdr.ts.tv_usec = static_cast<suseconds_t>(p.t_ns % 1000000000);   // nanoseconds: the file says so
    hdr.caplen = hdr.len = static_cast<bpf_u_int32>(p.bytes.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &hdr, reinterpret_cast<const u_char*>(p.bytes.data()));
  }
  totals_.packets += packets.size();
  if (!packets.empty()) pcap_dump_flush(dumper_);
  return n;
}

CaptureTotals CaptureWriter::finish() {
  if (finished_) return totals_;
  finished_ = true;
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  if (dumper_) {
    drain_once(true);
    pcap_dump_close(dumper_);
    dumper_ = nullptr;
  }
  if (pcap_) pcap_close(pcap_);
  pcap_ = nullptr;
  if (ring_) {
    totals_.lost_records = ring_.header->lost_records.load();
    totals_.lost_bytes = ring_.header->lost_bytes.load();
  }
  totals_.duplicate_bytes = builder_.duplicate_bytes();
  if (!ring_path_.empty()) unlink(ring_path_.c_str());
  return totals_;
}

}  // namespace shim::cmd
