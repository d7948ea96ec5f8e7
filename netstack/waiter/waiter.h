// Readiness events and the queue of parties waiting for them (gVisor pkg/waiter).
// Single-threaded: notify() calls the callbacks in place, in registration order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace netstack {

using EventMask = std::uint32_t;
// The poll(2) bit values, so an embedder can hand them to its own loop unchanged.
inline constexpr EventMask kEventIn = 0x001;
inline constexpr EventMask kEventOut = 0x004;
inline constexpr EventMask kEventErr = 0x008;
inline constexpr EventMask kEventHup = 0x010;

class WaiterQueue {
 public:
  using Callback = std::function<void(EventMask)>;
  using Handle = std::uint64_t;

  // cb runs with the events that happened, intersected with mask.
  Handle subscribe(EventMask mask, Callback cb) {
    const Handle h = next_++;
    entries_.emplace(h, Entry{mask, std::move(cb)});
    return h;
  }
  void unsubscribe(Handle h) { entries_.erase(h); }
  // Callbacks may subscribe or unsubscribe while being notified.
  void notify(EventMask events) {
    std::vector<Handle> due;
    for (const auto& [h, e] : entries_)
      if (e.mask & events) due.push_back(h);
    for (Handle h : due) {
      auto it = entries_.find(h);
      if (it != entries_.end()) {
        auto cb = it->second.cb;  // the callback may unsubscribe itself
        cb(it->second.mask & events);
      }
    }
  }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    EventMask mask;
    Callback cb;
  };
  Handle next_ = 1;
  std::map<Handle, Entry> entries_;
};

}  // namespace netstack
