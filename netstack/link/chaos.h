// Wraps a link endpoint and mistreats frames on purpose, reproducibly from a seed (cf. smoltcp
// phy/fault_injector.rs): loss, duplication, reordering, corruption (one flipped bit), delay.
// Each direction has its own settings. Delayed frames wait in the timer queue.
#pragma once

#include <cstdint>
#include <optional>
#include <set>

#include "netstack/link/nested.h"

namespace netstack::link {

struct ChaosSettings {
  double loss = 0;       // probability a frame vanishes
  double duplicate = 0;  // probability a frame is sent twice
  double reorder = 0;    // probability a frame is held back and sent after the next one
  double corrupt = 0;    // probability one bit of the frame is flipped
  Duration delay{0};     // added to every frame
  Duration jitter{0};    // plus a uniform random part in [0, jitter)
};

struct ChaosCounters {
  std::uint64_t passed = 0, lost = 0, duplicated = 0, reordered = 0, corrupted = 0, delayed = 0;
};

class ChaosEndpoint final : public NestedEndpoint {
 public:
  ChaosEndpoint(LinkEndpoint& inner, TimerQueue& timers, std::uint64_t seed,
                ChaosSettings outbound, ChaosSettings inbound);
  ~ChaosEndpoint() override;  // cancels the delayed frames still waiting
  Status write_frame(PacketBuffer frame) override;
  void deliver_frame(PacketBuffer frame) override;
  const ChaosCounters& outbound_counters() const { return out_.counters; }
  const ChaosCounters& inbound_counters() const { return in_.counters; }

 private:
  struct Direction {
    ChaosSettings settings;
    ChaosCounters counters;
    std::optional<PacketBuffer> held;  // waiting to be overtaken
  };
  enum class Dir : std::uint8_t { kOut, kIn };
  void process(Dir dir, PacketBuffer frame);
  void emit(Dir dir, PacketBuffer frame);  // after the delay, if any
  void forward(Dir dir, PacketBuffer frame);
  bool chance(double p);
  std::uint64_t next_random();  // xorshift64*: private, never libc's rand()

  TimerQueue& timers_;
  std::set<TimerQueue::TimerId> delayed_;
  std::uint64_t state_;
  Direction out_, in_;
};

}  // namespace netstack::link
