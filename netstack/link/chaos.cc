#include "netstack/link/chaos.h"

#include <memory>

namespace netstack::link {

ChaosEndpoint::ChaosEndpoint(LinkEndpoint& inner, TimerQueue& timers, std::uint64_t seed,
                             ChaosSettings outbound, ChaosSettings inbound)
    : NestedEndpoint(inner), timers_(timers), state_(seed == 0 ? 0x9e3779b97f4a7c15ull : seed) {
  out_.settings = outbound;
  in_.settings = inbound;
}

ChaosEndpoint::~ChaosEndpoint() {
  for (TimerQueue::TimerId id : delayed_) timers_.cancel(id);
}

std::uint64_t ChaosEndpoint::next_random() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545f4914f6cdd1dull;
}

bool ChaosEndpoint::chance(double p) {
  if (p <= 0) return false;
  // 53 random bits make a double uniform in [0, 1).
  const double u = static_cast<double>(next_random() >> 11) * 0x1.0p-53;
  return u < p;
}

Status ChaosEndpoint::write_frame(PacketBuffer frame) {
  process(Dir::kOut, std::move(frame));
  return {};  // a lossy wire does not tell the sender
}

void ChaosEndpoint::deliver_frame(PacketBuffer frame) { process(Dir::kIn, std::move(frame)); }

void ChaosEndpoint::process(Dir dir, PacketBuffer frame) {
  Direction& d = dir == Dir::kOut ? out_ : in_;
  if (chance(d.settings.loss)) {
    ++d.counters.lost;
    return;
  }
  if (!frame.empty() && chance(d.settings.corrupt)) {
    auto bytes = frame.mutable_view();
    const std::size_t bit = next_random() % (bytes.size() * 8);
    bytes[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    ++d.counters.corrupted;
  }
  if (chance(d.settings.duplicate)) {
    ++d.counters.duplicated;
    emit(dir, PacketBuffer(frame.view()));
  }
  if (!d.held && chance(d.settings.reorder)) {
    ++d.counters.reordered;
    d.held = std::move(frame);
    return;
  }
  emit(dir, std::move(frame));
  if (d.held) {
    PacketBuffer late = std::move(*d.held);
    d.held.reset();
    emit(dir, std::move(late));
  }
}

void ChaosEndpoint::emit(Dir dir, PacketBuffer frame) {
  Direction& d = dir == Dir::kOut ? out_ : in_;
  Duration wait = d.settings.delay;
  if (d.settings.jitter.count() > 0)
    wait += Duration(static_cast<Duration::rep>(next_random() %
                                                static_cast<std::uint64_t>(d.settings.jitter.count())));
  if (wait.count() <= 0) {
    forward(dir, std::move(frame));
    return;
  }
  ++d.counters.delayed;
  auto held = std::make_shared<PacketBuffer>(std::move(frame));
  auto id = std::make_shared<TimerQueue::TimerId>();
  *id = timers_.schedule_after(wait, [this, dir, held, id] {
    delayed_.erase(*id);
    forward(dir, std::move(*held));
  });
  delayed_.insert(*id);
}

void ChaosEndpoint::forward(Dir dir, PacketBuffer frame) {
  Direction& d = dir == Dir::kOut ? out_ : in_;
  ++d.counters.passed;
  if (dir == Dir::kOut) {
    (void)NestedEndpoint::write_frame(std::move(frame));  // a full inner queue is just more loss
  } else {
    NestedEndpoint::deliver_frame(std::move(frame));
  }
}

}  // namespace netstack::link
