// One TCP connection as the samples drive it: never-blocking reads, a queue of bytes still to
// write (the endpoint takes what its send buffer has room for), half-close, and how it ended.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netstack/stack/interfaces.h"
#include "netstack/transport/tcp/protocol.h"

namespace netstack::samples {

inline constexpr std::uint8_t kTcpProtocol = tcp::kProtocolNumber;

class Connection {
 public:
  explicit Connection(std::unique_ptr<Endpoint> ep);
  ~Connection();  // closes the endpoint
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Endpoint& endpoint() { return *ep_; }
  std::string peer() const;  // "A.B.C.D:port"
  // Up to out.size() bytes; 0 when nothing is queued, at EOF (eof()) or on an error (failed()).
  std::size_t read(std::span<std::byte> out);
  void queue(std::span<const std::byte> bytes);  // appended to what is still to be written
  // Writes as much of the queue as the endpoint takes; true when the queue is empty.
  bool flush();
  bool flushed() const { return pending_.size() == sent_; }
  std::size_t queued() const { return pending_.size() - sent_; }
  // Sends our FIN (shutdown(kShutdownWrite)); the linger clock starts at now.
  void shutdown_write(Instant now);
  bool eof() const { return eof_; }
  bool failed() const { return error_.has_value(); }
  bool write_shut() const { return shut_at_.has_value(); }
  // Done with it: failed, or both FINs exchanged and ours acknowledged (CLOSED or TIME_WAIT),
  // or our FIN unacknowledged for longer than the linger time (then outcome() says so).
  bool finished(Instant now);
  // "closed cleanly", or what went wrong, with the error's name.
  std::string outcome() const;
  std::optional<Errc> error() const { return error_; }
  // Records an error found outside read/write (a failed connect).
  void fail(Errc e, const char* during);
  std::uint64_t bytes_read() const { return bytes_read_; }
  std::uint64_t bytes_written() const { return bytes_written_; }

 private:
  std::unique_ptr<Endpoint> ep_;
  std::vector<std::byte> pending_;
  std::size_t sent_ = 0;  // bytes of pending_ already written
  bool eof_ = false;
  bool lingered_out_ = false;
  std::optional<Errc> error_;
  const char* error_during_ = "";
  std::optional<Instant> shut_at_;
  std::uint64_t bytes_read_ = 0, bytes_written_ = 0;
};

}  // namespace netstack::samples
