#include "netstack/link/channel.h"

namespace netstack::link {

Status ChannelEndpoint::write_frame(PacketBuffer frame) {
  if (outbound_.size() >= capacity_) {
    ++dropped_;
    return Errc::kNoBufferSpace;
  }
  outbound_.push_back(std::move(frame));
  return {};
}

void ChannelEndpoint::inject(PacketBuffer frame) {
  if (dispatcher() == nullptr) {
    ++dropped_;
    return;
  }
  dispatcher()->deliver_frame(std::move(frame));
}

std::optional<PacketBuffer> ChannelEndpoint::read_outbound() {
  if (outbound_.empty()) return std::nullopt;
  PacketBuffer f = std::move(outbound_.front());
  outbound_.pop_front();
  return f;
}

std::size_t pump(ChannelEndpoint& a, ChannelEndpoint& b, std::size_t max_frames) {
  std::size_t moved = 0;
  while (moved < max_frames && (a.outbound_size() > 0 || b.outbound_size() > 0)) {
    if (auto f = a.read_outbound()) b.inject(std::move(*f)), ++moved;
    if (auto f = b.read_outbound()) a.inject(std::move(*f)), ++moved;
  }
  return moved;
}

}  // namespace netstack::link
