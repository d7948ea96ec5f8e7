#include "netstack/link/loopback.h"

#include <memory>

namespace netstack::link {

LoopbackEndpoint::~LoopbackEndpoint() {
  for (TimerQueue::TimerId id : pending_) timers_.cancel(id);
}

Status LoopbackEndpoint::write_frame(PacketBuffer frame) {
  // std::function needs a copyable callable: hold the frame through a shared_ptr.
  auto held = std::make_shared<PacketBuffer>(std::move(frame));
  auto id = std::make_shared<TimerQueue::TimerId>();
  *id = timers_.schedule_after(Duration::zero(), [this, held, id] {
    pending_.erase(*id);
    if (dispatcher() != nullptr) dispatcher()->deliver_frame(std::move(*held));
  });
  pending_.insert(*id);
  return {};
}

}  // namespace netstack::link
