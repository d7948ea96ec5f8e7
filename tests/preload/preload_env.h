// Test fixture for code that runs with libsockshim.so preloaded: the test binary re-executes
// itself with LD_PRELOAD, the rule file preload_rules.json and a fresh stats segment, then reads
// its own counters and switches rules on and off through that segment (as `sockshim ctl` will).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "filters/call_type.h"
#include "shim/cookie.h"
#include "shim/stats/layout.h"

namespace preload_test {

// The rule of preload_rules.json that injects on call type t (rules 0..11 follow CallType).
inline int rule_for(filters::CallType t) { return static_cast<int>(t); }
inline constexpr int kNthConnectRule = 12;   // port 9, every 2nd hit, at most twice

shim::stats::Segment& segment();
// Enables exactly one rule (or none with -1) for the current thread's test.
void only_rule(int rule);
// Counter of a cookie; 0 when the cookie was never seen.
std::uint64_t counter(shim::Cookie c, shim::stats::Counter k);
inline const shim::Cookie kTcp = shim::make_cookie(AF_INET, SOCK_STREAM, IPPROTO_TCP);
inline const shim::Cookie kUdp = shim::make_cookie(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
inline const shim::Cookie kUnixStream = shim::make_cookie(AF_UNIX, SOCK_STREAM, 0);
inline const shim::Cookie kUnixDgram = shim::make_cookie(AF_UNIX, SOCK_DGRAM, 0);

// Loopback TCP: a listener on an ephemeral port and its address.
struct Listener {
  int fd = -1;
  sockaddr_in addr{};
  Listener();
  ~Listener();
};
// A connected loopback TCP pair (client, server side).
struct TcpPair {
  int client = -1, server = -1;
  explicit TcpPair(const Listener& l);
  ~TcpPair();
};

}  // namespace preload_test
