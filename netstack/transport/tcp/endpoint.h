// The user API of a TCP socket (stack/interfaces.h Endpoint): a handle on a Connection that the
// protocol owns. Dropping the handle is close(); the connection then finishes on its own.
#pragma once

#include <memory>

#include "netstack/transport/tcp/connection.h"

namespace netstack::tcp {

class TcpEndpoint final : public Endpoint {
 public:
  explicit TcpEndpoint(std::shared_ptr<Connection> c) : conn_(std::move(c)) {}
  ~TcpEndpoint() override { close(); }
  TcpEndpoint(const TcpEndpoint&) = delete;
  TcpEndpoint& operator=(const TcpEndpoint&) = delete;

  void close() override;
  Expected<ReadResult> read(std::span<std::byte> out) override;
  Expected<ReadResult> peek(std::span<std::byte> out) override;
  Expected<std::size_t> write(ByteView data, const WriteOptions& opts) override;
  Status connect(const FullAddress& addr) override;
  Status shutdown(std::uint8_t flags) override;
  Status listen(int backlog) override;
  Expected<std::unique_ptr<Endpoint>> accept() override;
  Status bind(const FullAddress& addr) override;
  Expected<FullAddress> get_local_address() const override;
  Expected<FullAddress> get_remote_address() const override;
  EventMask readiness(EventMask mask) const override;
  Status set_sock_opt(SockOpt opt, std::int64_t value) override;
  Expected<std::int64_t> get_sock_opt(SockOpt opt) override;
  WaiterQueue& waiter_queue() override { return conn_->waiters(); }

 private:
  // The connection, or nullptr when the handle was closed or the stack is gone.
  Connection* live() const { return closed_ || conn_->detached() ? nullptr : conn_.get(); }

  std::shared_ptr<Connection> conn_;
  bool closed_ = false;
};

}  // namespace netstack::tcp
