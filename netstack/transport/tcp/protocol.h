// TCP as a transport protocol of the stack (gVisor tcpip/transport/tcp): register it with
// Stack::register_transport_protocol(tcp::make_protocol(...)), then Stack::new_endpoint(
// tcp::kProtocolNumber) hands stream endpoints with the user API of stack/interfaces.h:
//   connect -> kConnectStarted (the result later: readiness kEventOut, or kEventErr and
//              get_sock_opt(SockOpt::kError)); listen/accept (accept: kWouldBlock when the
//              queue is empty, kEventIn on the listener when it is not); read/write never block
//              (kWouldBlock); read returns 0 bytes at EOF; shutdown(kShutdownWrite) sends FIN.
// Everything runs on the embedder's thread inside its calls into the stack, like the rest.
#pragma once

#include <cstdint>
#include <memory>

#include "netstack/stack/interfaces.h"
#include "netstack/transport/tcp/tunables.h"

namespace netstack::tcp {

inline constexpr std::uint8_t kProtocolNumber = 6;

struct ProtocolOptions {
  Tunables tunables{};
  // Key for the RFC 6528 ISN hash; 0 draws one from getrandom. Tests fix it to be reproducible.
  std::uint64_t isn_key = 0;
};

std::unique_ptr<TransportProtocol> make_protocol(ProtocolOptions options = {});

}  // namespace netstack::tcp
