// Wraps any link endpoint and writes every frame, both directions, to a pcap file through
// libpcap (gVisor link/sniffer). Link type: Ethernet or raw IPv4, after the inner medium.
// Timestamps come from the given clock, so a FakeClock gives byte-identical files.
#pragma once

#include <string>

#include "netstack/link/nested.h"

struct pcap;
struct pcap_dumper;

namespace netstack::link {

class SnifferEndpoint final : public NestedEndpoint {
 public:
  // Opening fails when the file cannot be created; error() says why (path included).
  SnifferEndpoint(LinkEndpoint& inner, const std::string& path, const Clock& clock);
  ~SnifferEndpoint() override;
  bool ok() const { return dumper_ != nullptr; }
  const std::string& error() const { return error_; }
  std::uint64_t frames_written() const { return frames_; }

  Status write_frame(PacketBuffer frame) override;
  void deliver_frame(PacketBuffer frame) override;

 private:
  void dump(ByteView frame);
  const Clock& clock_;
  pcap* pcap_ = nullptr;
  pcap_dumper* dumper_ = nullptr;
  std::string error_;
  std::uint64_t frames_ = 0;
};

}  // namespace netstack::link
