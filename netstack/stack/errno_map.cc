// The only mapping from the netstack error space to errno (gVisor syserr/netstack.go).
#include <cerrno>

#include "netstack/tcpip/error.h"

namespace netstack {

int to_errno(Errc e) {
  switch (e) {
    case Errc::kUnknownProtocol: return EAFNOSUPPORT;
    case Errc::kUnknownNicId: return ENODEV;
    case Errc::kUnknownProtocolOption: return ENOPROTOOPT;
    case Errc::kDuplicateNicId: return EEXIST;
    case Errc::kDuplicateAddress: return EADDRINUSE;
    case Errc::kNoRoute: return EHOSTUNREACH;
    case Errc::kBadLinkEndpoint: return EINVAL;
    case Errc::kAlreadyBound: return EINVAL;
    case Errc::kInvalidEndpointState: return EBADF;
    case Errc::kAlreadyConnecting: return EALREADY;
    case Errc::kAlreadyConnected: return EISCONN;
    case Errc::kNoPortAvailable: return EAGAIN;
    case Errc::kPortInUse: return EADDRINUSE;
    case Errc::kBadLocalAddress: return EADDRNOTAVAIL;
    case Errc::kClosedForSend: return EPIPE;
    case Errc::kClosedForReceive: return ESHUTDOWN;
    case Errc::kWouldBlock: return EWOULDBLOCK;
    case Errc::kConnectionRefused: return ECONNREFUSED;
    case Errc::kTimeout: return ETIMEDOUT;
    case Errc::kAborted: return EPIPE;
    case Errc::kConnectStarted: return EINPROGRESS;
    case Errc::kDestinationRequired: return EDESTADDRREQ;
    case Errc::kNotSupported: return EOPNOTSUPP;
    case Errc::kNotConnected: return ENOTCONN;
    case Errc::kConnectionReset: return ECONNRESET;
    case Errc::kConnectionAborted: return ECONNABORTED;
    case Errc::kInvalidOptionValue: return EINVAL;
    case Errc::kNoLinkAddress: return EHOSTDOWN;
    case Errc::kBadAddress: return EFAULT;
    case Errc::kMessageTooLong: return EMSGSIZE;
    case Errc::kNoBufferSpace: return ENOBUFS;
    case Errc::kMalformed: return EBADMSG;
  }
  return EINVAL;
}

const char* errc_name(Errc e) {
  switch (e) {
    case Errc::kUnknownProtocol: return "unknown protocol";
    case Errc::kUnknownNicId: return "unknown nic id";
    case Errc::kUnknownProtocolOption: return "unknown option for protocol";
    case Errc::kDuplicateNicId: return "duplicate nic id";
    case Errc::kDuplicateAddress: return "duplicate address";
    case Errc::kNoRoute: return "no route";
    case Errc::kBadLinkEndpoint: return "bad link layer endpoint";
    case Errc::kAlreadyBound: return "endpoint already bound";
    case Errc::kInvalidEndpointState: return "endpoint is in invalid state";
    case Errc::kAlreadyConnecting: return "endpoint is already connecting";
    case Errc::kAlreadyConnected: return "endpoint is already connected";
    case Errc::kNoPortAvailable: return "no ports are available";
    case Errc::kPortInUse: return "port is in use";
    case Errc::kBadLocalAddress: return "bad local address";
    case Errc::kClosedForSend: return "endpoint is closed for send";
    case Errc::kClosedForReceive: return "endpoint is closed for receive";
    case Errc::kWouldBlock: return "operation would block";
    case Errc::kConnectionRefused: return "connection was refused";
    case Errc::kTimeout: return "operation timed out";
    case Errc::kAborted: return "operation aborted";
    case Errc::kConnectStarted: return "connection attempt started";
    case Errc::kDestinationRequired: return "destination address is required";
    case Errc::kNotSupported: return "operation not supported";
    case Errc::kNotConnected: return "endpoint not connected";
    case Errc::kConnectionReset: return "connection reset by peer";
    case Errc::kConnectionAborted: return "connection aborted";
    case Errc::kInvalidOptionValue: return "invalid option value specified";
    case Errc::kNoLinkAddress: return "no remote link address";
    case Errc::kBadAddress: return "bad address";
    case Errc::kMessageTooLong: return "message too long";
    case Errc::kNoBufferSpace: return "no buffer space available";
    case Errc::kMalformed: return "malformed packet";
  }
  return "unknown error";
}

}  // namespace netstack
