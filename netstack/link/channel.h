// The test NIC (gVisor link/channel): inbound frames are injected by the caller, outbound frames
// wait in a bounded queue until the caller reads them. pump() joins two channels into a wire.
#pragma once

#include <deque>
#include <optional>

#include "netstack/stack/interfaces.h"

namespace netstack::link {

class ChannelEndpoint final : public LinkEndpoint {
 public:
  ChannelEndpoint(std::uint32_t mtu, LinkMedium medium, LinkAddress address = {},
                  std::size_t queue_capacity = 1024)
      : mtu_(mtu), medium_(medium), address_(address), capacity_(queue_capacity) {}

  std::uint32_t mtu() const override { return mtu_; }
  LinkMedium medium() const override { return medium_; }
  LinkAddress link_address() const override { return address_; }
  Status write_frame(PacketBuffer frame) override;

  // Delivers a frame as if it arrived on the wire. Dropped when nothing is attached.
  void inject(PacketBuffer frame);
  void inject(ByteView bytes) { inject(PacketBuffer(bytes)); }
  std::optional<PacketBuffer> read_outbound();
  std::size_t outbound_size() const { return outbound_.size(); }
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::uint32_t mtu_;
  LinkMedium medium_;
  LinkAddress address_;
  std::size_t capacity_;
  std::deque<PacketBuffer> outbound_;
  std::uint64_t dropped_ = 0;
};

// Moves every queued outbound frame of a into b and of b into a, up to max_frames in total,
// until both queues are empty (replies produced on the way are moved too). Returns frames moved.
std::size_t pump(ChannelEndpoint& a, ChannelEndpoint& b, std::size_t max_frames = 100000);

}  // namespace netstack::link
