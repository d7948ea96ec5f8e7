#include "netstack/link/sniffer.h"

#include <pcap/pcap.h>

#include <chrono>

namespace netstack::link {

SnifferEndpoint::SnifferEndpoint(LinkEndpoint& inner, const std::string& path, const Clock& clock)
    : NestedEndpoint(inner), clock_(clock) {
  // DLT_RAW: frames start at the IPv4 header (libpcap writes it as LINKTYPE_RAW, 101).
  const int dlt = inner.medium() == LinkMedium::kEthernet ? DLT_EN10MB : DLT_RAW;
  pcap_ = pcap_open_dead(dlt, 65535);
  if (pcap_ == nullptr) {
    error_ = path + ": pcap_open_dead failed";
    return;
  }
  dumper_ = pcap_dump_open(pcap_, path.c_str());
  if (dumper_ == nullptr) error_ = path + ": " + pcap_geterr(pcap_);
}

SnifferEndpoint::~SnifferEndpoint() {
  if (dumper_ != nullptr) pcap_dump_close(dumper_);
  if (pcap_ != nullptr) pcap_close(pcap_);
}

void SnifferEndpoint::dump(ByteView frame) {
  if (dumper_ == nullptr) return;
  const auto since = clock_.now().time_since_epoch();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(since).count();
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = static_cast<time_t>(us / 1000000);
  hdr.ts.tv_usec = static_cast<suseconds_t>(us % 1000000);
  hdr.caplen = hdr.len = static_cast<bpf_u_int32>(frame.size());
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &hdr,
            reinterpret_cast<const u_char*>(frame.data()));
  // Flushed per frame: a sample killed by a signal still leaves a readable file.
  pcap_dump_flush(dumper_);
  ++frames_;
}

Status SnifferEndpoint::write_frame(PacketBuffer frame) {
  dump(frame.view());
  return NestedEndpoint::write_frame(std::move(frame));
}

void SnifferEndpoint::deliver_frame(PacketBuffer frame) {
  dump(frame.view());
  NestedEndpoint::deliver_frame(std::move(frame));
}

}  // namespace netstack::link
