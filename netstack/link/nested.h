// Base for wrappers around another link endpoint (gVisor link/nested): by default every call
// and every inbound frame passes straight through; a wrapper overrides what it changes.
#pragma once

#include "netstack/stack/interfaces.h"

namespace netstack::link {

class NestedEndpoint : public LinkEndpoint, public NetworkDispatcher {
 public:
  explicit NestedEndpoint(LinkEndpoint& inner) : inner_(inner) { inner_.attach(this); }
  ~NestedEndpoint() override { inner_.attach(nullptr); }
  NestedEndpoint(const NestedEndpoint&) = delete;
  NestedEndpoint& operator=(const NestedEndpoint&) = delete;

  std::uint32_t mtu() const override { return inner_.mtu(); }
  LinkMedium medium() const override { return inner_.medium(); }
  LinkAddress link_address() const override { return inner_.link_address(); }
  void attach(NetworkDispatcher* d) override { dispatcher_ = d; }
  Status write_frame(PacketBuffer frame) override { return inner_.write_frame(std::move(frame)); }
  void deliver_frame(PacketBuffer frame) override {
    if (dispatcher_ != nullptr) dispatcher_->deliver_frame(std::move(frame));
  }

 protected:
  LinkEndpoint& inner_;
  NetworkDispatcher* dispatcher_ = nullptr;
};

}  // namespace netstack::link
