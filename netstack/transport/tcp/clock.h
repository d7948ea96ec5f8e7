// Time as TCP's pure modules see it: always passed in by the caller, never read from a clock, so
// every timeline is reproducible in tests and the embedder's event loop owns time. The types are
// the stack's own (netstack/tcpip/clock.h): one FakeClock drives the stack's TimerQueue and TCP.
#pragma once

#include "netstack/tcpip/clock.h"

namespace netstack::tcp {

using netstack::Duration;
// A point on the embedder's monotonic clock (steady_clock in production, FakeClock in tests).
using netstack::Instant;
// A manual clock for tests and simulations: time moves only when advance() says so.
using netstack::FakeClock;

}  // namespace netstack::tcp
