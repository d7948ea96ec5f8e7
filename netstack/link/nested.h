// Base for wrappers around another link endpoint (gVisor link/nested): by default every call
// and every inbound frame passes straight through; a wrapper overrides what it changes.
#pragma once

#include "netstack/stack/interfaces.h"

namespace netstack::link {

class NestedEndpoint : public LinkEndpoint, public NetworkDispatcher {
 public:
  explicit NestedEndpoint(LinkEndpoint& inner) : inner_(&inner) { inner_->attach(this); }
  ~NestedEndpoint() override {
    if (inner_ != nullptr) inner_->attach(nullptr);
  }
  NestedEndpoint(const NestedEndpoint&) = delete;
  NestedEndpoint& operator=(const NestedEndpoint&) = delete;

  // What the inner link said while it lived; once it is gone, nothing more is sent.
  std::uint32_t mtu() const override { return mtu_; }
  LinkMedium medium() const override { return medium_; }
  LinkAddress link_address() const override { return address_; }
  Status write_frame(PacketBuffer frame) override {
    if (inner_ == nullptr) return Errc::kClosedForSend;
    return inner_->write_frame(std::move(frame));
  }
  void deliver_frame(PacketBuffer frame) override {
    if (dispatcher() != nullptr) dispatcher()->deliver_frame(std::move(frame));
  }
  void link_destroyed(LinkEndpoint&) override { inner_ = nullptr; }

 private:
  LinkEndpoint* inner_;
  std::uint32_t mtu_ = inner_->mtu();
  LinkMedium medium_ = inner_->medium();
  LinkAddress address_ = inner_->link_address();
};

}  // namespace netstack::link
