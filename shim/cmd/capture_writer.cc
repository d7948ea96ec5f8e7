#include "shim/cmd/capture_writer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <vector>

namespace shim::cmd {

namespace {
constexpr std::size_t kBatch = 1024;   // records per batch: one flush of the file each
}  // namespace

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
  w->pcap_ = pcap_open_dead_with_tstamp_precision(DLT_RAW, 65535, PCAP_TSTAMP_PRECISION_NANO);
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
  const std::size_t n = capture::drain(
      ring_,
      [&](const capture::RecordHead& r, const std::byte* payload) {
        ++totals_.records;
        builder_.add(r, {payload, r.len}, packets);
      },
      final, final ? SIZE_MAX : kBatch);
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
