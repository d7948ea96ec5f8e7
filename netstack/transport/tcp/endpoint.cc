#include "netstack/transport/tcp/endpoint.h"

namespace netstack::tcp {

void TcpEndpoint::close() {
  if (closed_) return;
  closed_ = true;
  if (!conn_->detached()) {
    conn_->user_close();
    conn_->flush_events();
  }
}

Expected<ReadResult> TcpEndpoint::read(std::span<std::byte> out) {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  auto r = c->read(out, true);
  c->flush_events();
  return r;
}

Expected<ReadResult> TcpEndpoint::peek(std::span<std::byte> out) {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  return c->read(out, false);
}

Expected<std::size_t> TcpEndpoint::write(ByteView data, const WriteOptions& opts) {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  // A stream socket ignores a destination when connected (Linux: EISCONN only if it differs).
  if (opts.to) {
    auto remote = c->remote_address();
    if (remote && (remote->addr != opts.to->addr || remote->port != opts.to->port))
      return Errc::kAlreadyConnected;
  }
  auto r = c->write(data);
  c->flush_events();
  return r;
}

Status TcpEndpoint::connect(const FullAddress& addr) {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  Status s = c->connect(addr);
  c->flush_events();
  return s;
}

Status TcpEndpoint::shutdown(std::uint8_t flags) {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  Status s = c->shutdown(flags);
  c->flush_events();
  return s;
}

Status TcpEndpoint::listen(int backlog) {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  return c->listen(backlog);
}

Expected<std::unique_ptr<Endpoint>> TcpEndpoint::accept() {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  auto child = c->accept();
  if (!child) return child.error();
  return std::unique_ptr<Endpoint>(std::make_unique<TcpEndpoint>(std::move(*child)));
}

Status TcpEndpoint::bind(const FullAddress& addr) {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  return c->bind(addr);
}

Expected<FullAddress> TcpEndpoint::get_local_address() const {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  return c->local_address();
}

Expected<FullAddress> TcpEndpoint::get_remote_address() const {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  return c->remote_address();
}

EventMask TcpEndpoint::readiness(EventMask mask) const {
  Connection* c = live();
  if (c == nullptr) return mask & (kEventHup | kEventIn | kEventOut);
  return c->readiness() & mask;
}

Status TcpEndpoint::set_sock_opt(SockOpt opt, std::int64_t value) {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  Status s = c->set_option(opt, value);
  c->flush_events();
  return s;
}

Expected<std::int64_t> TcpEndpoint::get_sock_opt(SockOpt opt) {
  Connection* c = live();
  if (c == nullptr) return Errc::kInvalidEndpointState;
  return c->get_option(opt);
}

}  // namespace netstack::tcp
