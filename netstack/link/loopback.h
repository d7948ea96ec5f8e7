// Loopback (gVisor link/loopback): every frame written comes back in. Delivery is deferred to
// the timer queue so that a reply sent while handling a packet never recurses into the stack.
#pragma once

#include <set>

#include "netstack/stack/interfaces.h"

namespace netstack::link {

class LoopbackEndpoint final : public LinkEndpoint {
 public:
  explicit LoopbackEndpoint(TimerQueue& timers, std::uint32_t mtu = 65536)
      : timers_(timers), mtu_(mtu) {}
  ~LoopbackEndpoint() override;  // cancels deliveries still pending
  std::uint32_t mtu() const override { return mtu_; }
  LinkMedium medium() const override { return LinkMedium::kRawIp; }
  Status write_frame(PacketBuffer frame) override;

 private:
  TimerQueue& timers_;
  std::uint32_t mtu_;
  std::set<TimerQueue::TimerId> pending_;
};

}  // namespace netstack::link
