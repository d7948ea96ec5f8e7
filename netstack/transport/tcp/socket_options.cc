// Socket options of a TCP endpoint (SockOpt in stack/interfaces.h): buffers, TCP_NODELAY,
// keepalive, and the read-only MSS, state and pending error.
#include "netstack/transport/tcp/protocol_impl.h"

namespace netstack::tcp {

Status Connection::set_option(SockOpt opt, std::int64_t value) {
  auto seconds = [&](Duration& d) -> Status {
    if (value < 1 || value > 32767) return Errc::kInvalidOptionValue;
    d = std::chrono::seconds(value);
    return {};
  };
  Status s;
  switch (opt) {
    case SockOpt::kReceiveBufferSize:
    case SockOpt::kSendBufferSize:
      // Takes effect for the buffers made at the handshake (as Linux before connect/listen).
      if (value < 2048 || value > (64 << 20)) return Errc::kInvalidOptionValue;
      (opt == SockOpt::kReceiveBufferSize ? rcvbuf_size_ : sndbuf_size_) =
          static_cast<std::size_t>(value);
      return {};
    case SockOpt::kNoDelay:
      nodelay_ = value != 0;
      if (nodelay_) output();
      return {};
    case SockOpt::kKeepAlive:
      keepalive_config_.enabled = value != 0;
      break;
    case SockOpt::kKeepIdle: s = seconds(keepalive_config_.idle); break;
    case SockOpt::kKeepInterval: s = seconds(keepalive_config_.interval); break;
    case SockOpt::kKeepCount:
      if (value < 1 || value > 127) return Errc::kInvalidOptionValue;
      keepalive_config_.count = static_cast<unsigned>(value);
      break;
    case SockOpt::kReuseAddress:
      return {};  // remembered by Linux, refused duplicates either way here
    case SockOpt::kTtl:
    case SockOpt::kBroadcast:
      return Errc::kUnknownProtocolOption;
    case SockOpt::kReceiveQueueSize:
    case SockOpt::kError:
    case SockOpt::kMaxSegment:
    case SockOpt::kState:
      return Errc::kInvalidOptionValue;  // read-only here
  }
  if (!s) return s;
  if (keepalive_) {
    keepalive_->configure(keepalive_config_);
    restart_keepalive();
  }
  return {};
}

Expected<std::int64_t> Connection::get_option(SockOpt opt) {
  switch (opt) {
    case SockOpt::kReceiveBufferSize: return static_cast<std::int64_t>(rcvbuf_size_);
    case SockOpt::kSendBufferSize: return static_cast<std::int64_t>(sndbuf_size_);
    case SockOpt::kReceiveQueueSize: return static_cast<std::int64_t>(unread());
    case SockOpt::kError: {
      const int e = error_ ? to_errno(*error_) : 0;
      error_.reset();
      return std::int64_t{e};
    }
    case SockOpt::kNoDelay: return std::int64_t{nodelay_};
    case SockOpt::kKeepAlive: return std::int64_t{keepalive_config_.enabled};
    case SockOpt::kKeepIdle:
      return std::chrono::duration_cast<std::chrono::seconds>(keepalive_config_.idle).count();
    case SockOpt::kKeepInterval:
      return std::chrono::duration_cast<std::chrono::seconds>(keepalive_config_.interval).count();
    case SockOpt::kKeepCount: return std::int64_t{keepalive_config_.count};
    case SockOpt::kMaxSegment:
      return std::int64_t{is_synchronized(state_) ? eff_mss() : offered_.mss.value_or(kDefaultMss)};
    case SockOpt::kState: return static_cast<std::int64_t>(state_);
    case SockOpt::kReuseAddress: return std::int64_t{0};
    case SockOpt::kTtl: return std::int64_t{64};
    case SockOpt::kBroadcast: break;
  }
  return Errc::kUnknownProtocolOption;
}

}  // namespace netstack::tcp
