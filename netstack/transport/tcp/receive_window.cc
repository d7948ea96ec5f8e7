#include "netstack/transport/tcp/receive_window.h"

#include <algorithm>

namespace netstack::tcp {

using seqnum::Size;
using seqnum::Value;

std::uint8_t window_scale_for(std::uint64_t capacity) {
  std::uint8_t shift = 0;
  while (shift < kMaxWindowScale && (capacity >> shift) > 0xffff) ++shift;
  return shift;
}

ReceiveWindow::ReceiveWindow(Size capacity, std::uint8_t rcv_wscale, Size mss, Value rcv_nxt)
    : capacity_(std::min<Size>(capacity, Size{0xffff} << std::min(rcv_wscale, kMaxWindowScale))),
      scale_(std::min(rcv_wscale, kMaxWindowScale)),
      mss_(std::max<Size>(mss, 1)),
      right_edge_(rcv_nxt.add(std::min<Size>(capacity_, 0xffff))) {}

std::uint16_t ReceiveWindow::syn_window() const {
  return static_cast<std::uint16_t>(std::min<Size>(capacity_, 0xffff));
}

// RFC 9293 §3.8.6.2.2: Fr = 1/2.
Size ReceiveWindow::opening_threshold() const { return std::min(capacity_ / 2, mss_); }

bool ReceiveWindow::update_worth_sending(Value rcv_nxt, Size unread) const {
  const Size available = capacity_ - std::min(unread, capacity_);
  return available >= window_from(rcv_nxt) + opening_threshold();
}

std::uint16_t ReceiveWindow::advertise(Value rcv_nxt, Size unread) {
  const Size available = capacity_ - std::min(unread, capacity_);
  const Size current = window_from(rcv_nxt);
  // Receiver SWS avoidance: move the right edge only by a worthwhile amount.
  Size window = available >= current + opening_threshold() ? available : current;
  // Never shrink: the right edge already promised stays (RFC 9293 §3.8.6, RFC 7323 §2.4).
  window = std::max(window, current);
  Size field = window >> scale_;
  if ((Size{field} << scale_) < current) {
    // Scaling rounds down; rounding down here would pull the right edge left, so round up.
    field = (current + (Size{1} << scale_) - 1) >> scale_;
  }
  field = std::min<Size>(field, 0xffff);
  const Value edge = rcv_nxt.add(field << scale_);
  if (right_edge_.less_than(edge)) right_edge_ = edge;
  return static_cast<std::uint16_t>(field);
}

}  // namespace netstack::tcp
