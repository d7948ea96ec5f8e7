#include "netstack/samples/tcp_sample.h"

#include <algorithm>
#include <cstring>

#include "netstack/transport/tcp/state_machine.h"

namespace netstack::samples {

namespace {
// How long a connection may wait for the peer to acknowledge our FIN before we drop it anyway.
constexpr Duration kLinger = std::chrono::seconds(20);
}  // namespace

Connection::Connection(std::unique_ptr<Endpoint> ep) : ep_(std::move(ep)) {}

Connection::~Connection() {
  if (ep_) ep_->close();
}

std::string Connection::peer() const {
  auto a = ep_->get_remote_address();
  if (!a) return "(unconnected)";
  return a->addr.to_string() + ":" + std::to_string(a->port);
}

std::size_t Connection::read(std::span<std::byte> out) {
  if (eof_ || error_) return 0;
  auto r = ep_->read(out);
  if (!r) {
    if (r.error() != Errc::kWouldBlock) fail(r.error(), "read");
    return 0;
  }
  if (r->bytes == 0) eof_ = true;  // the contract: a successful read of 0 bytes is EOF
  bytes_read_ += r->bytes;
  return r->bytes;
}

void Connection::queue(std::span<const std::byte> bytes) {
  if (sent_ > 0 && sent_ == pending_.size()) {
    pending_.clear();
    sent_ = 0;
  }
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
}

bool Connection::flush() {
  while (!flushed() && !error_) {
    auto w = ep_->write(ByteView(pending_.data() + sent_, pending_.size() - sent_), WriteOptions{});
    if (!w) {
      if (w.error() != Errc::kWouldBlock) fail(w.error(), "write");
      break;
    }
    if (*w == 0) break;
    sent_ += *w;
    bytes_written_ += *w;
  }
  if (flushed()) {
    pending_.clear();
    sent_ = 0;
  } else if (sent_ > (1u << 20) && sent_ > pending_.size() / 2) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(sent_));
    sent_ = 0;
  }
  return flushed() && !error_;
}

void Connection::shutdown_write(Instant now) {
  if (shut_at_) return;
  shut_at_ = now;
  if (auto s = ep_->shutdown(kShutdownWrite); !s) fail(s.error(), "shutdown");
}

bool Connection::finished(Instant now) {
  if (error_) return true;
  if (!shut_at_ || !eof_) return false;
  if (auto st = ep_->get_sock_opt(SockOpt::kState)) {
    const auto state = static_cast<tcp::State>(*st);
    if (state == tcp::State::kClosed || state == tcp::State::kTimeWait) return true;
  } else {
    return true;  // the endpoint no longer has a connection to report on
  }
  if (now - *shut_at_ > kLinger) {
    lingered_out_ = true;
    return true;
  }
  return false;
}

void Connection::fail(Errc e, const char* during) {
  if (error_) return;
  error_ = e;
  error_during_ = during;
}

std::string Connection::outcome() const {
  if (error_)
    return std::string(error_during_) + " failed: " + errc_name(*error_) + " (" +
           std::strerror(to_errno(*error_)) + ")";
  if (lingered_out_) return "our FIN was not acknowledged in time";
  return eof_ ? "closed cleanly" : "still open";
}

}  // namespace netstack::samples
