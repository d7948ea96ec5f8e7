// `sockshim run --pcap FILE`: the capture ring's consumer. Creates the ring in shared memory
// (its path goes to the run's processes as SOCKSHIM_CAPTURE), drains it on a thread of the run's
// process every few milliseconds, and writes the packets PacketBuilder makes of the records to
// FILE with libpcap (LINKTYPE_RAW, nanosecond timestamps), flushed after each batch so that the
// file can be read while the run is live. docs/capture.md.
#pragma once

#include <pcap/pcap.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "shim/capture_ring.h"
#include "shim/cmd/capture_packets.h"

namespace shim::cmd {

struct CaptureTotals {
  std::uint64_t records = 0, packets = 0;
  std::uint64_t lost_records = 0, lost_bytes = 0;   // the ring was full (or a producer died mid-append)
  std::uint64_t duplicate_bytes = 0;                // bytes both ends of a connection recorded
};

class SockDiag;

class CaptureWriter {
 public:
  // Makes the ring (slots: a power of two) at ring_path (O_EXCL, 0600) and opens pcap_path.
  // Null, with *error set, when either fails.
  static std::unique_ptr<CaptureWriter> start(const std::string& pcap_path, const std::string& ring_path,
                                              std::uint64_t slots, std::string* error);
  ~CaptureWriter();
  const std::string& ring_path() const { return ring_path_; }
  // The run is over: drains what is left (a slot claimed and never published counts as lost),
  // closes the file and removes the ring. Idempotent.
  CaptureTotals finish();

 private:
  CaptureWriter() = default;
  void loop();
  std::size_t drain_once(bool final);

  std::string ring_path_;
  void* mem_ = nullptr;
  std::size_t size_ = 0;
  capture::Ring ring_;
  pcap_t* pcap_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
  std::unique_ptr<SockDiag> diag_;   // asked by builder_: declared first, destroyed after it
  PacketBuilder builder_;
  std::int64_t last_recheck_ = 0;
  bool probed_ = false;           // probe_pending() ran; close_released() once the tail passed:
  std::uint64_t probe_head_ = 0;  // the ring's head right after that probe
  CaptureTotals totals_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  bool finished_ = false;
};

}  // namespace shim::cmd
