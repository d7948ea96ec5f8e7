// Which rule, if any, concerns a call: the facts rules match on (family, ports, addresses,
// paths), gathered once per call and only as far as some rule needs them, and the per-socket cache
// of the answer. Reads the table; changes nothing but that cache.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include "filters/table.h"
#include "shim/call.h"
#include "shim/cookie.h"
#include "shim/fdtable.h"
#include "shim/rule_profile.h"
#include "shim/socket_args.h"
#include "shim/stats/layout.h"

namespace shim {

class RuleLookup {
 public:
  // starts: room for the table's RuleStarts (built there when it has rules).
  void set_table(const filters::Table* t, RuleStarts* starts) noexcept {
    table_ = t;
    profile_ = RuleProfile::of(t, starts);
    starts_ = starts;
  }
  const RuleStarts* starts() const noexcept { return starts_; }
  void set_segment(stats::Segment* s) noexcept { seg_ = s; }
  const filters::Table& table() const noexcept { return *table_; }
  const RuleProfile& profile() const noexcept { return profile_; }
  bool has_rules(filters::CallType t) const noexcept { return profile_.has(t); }

  // The service port of a call on socket e (state `conn`): the port of the address a connect or
  // send names (peer_addr), else the socket's own (service_port_of: the peer's on a connected or
  // connecting socket, else the local one); -1 when none is known. ports() and
  // rule_free_by_port() both ask it. The entry's ports are read only when the call names no
  // address.
  [[gnu::always_inline]] static int service_port(ConnState conn, const FdEntry& e, const sockaddr* peer_addr,
                                                 socklen_t addrlen) noexcept {
    if (peer_addr) return port_of(peer_addr, addrlen);
    return service_port_of(conn, e.local_port.load(std::memory_order_relaxed),
                           e.peer_port.load(std::memory_order_relaxed));
  }
  // The ports of a call, as the facts report them (-1 unknown): the socket's known ports (0: not
  // known) and the address the call names, a connect's or send's the peer's (`addr_is_peer`), a
  // bind's the local one.
  struct Ports {
    int local = -1, peer = -1, service = -1;
  };
  static Ports ports(ConnState conn, const FdEntry& e, const sockaddr* addr, socklen_t addrlen,
                     bool addr_is_peer) noexcept {
    Ports p;
    const int peer = e.peer_port.load(std::memory_order_relaxed);
    const int local = e.local_port.load(std::memory_order_relaxed);
    const bool connected = conn == ConnState::kConnected || conn == ConnState::kConnecting;
    if (local) p.local = local;
    if (peer && connected) p.peer = peer;
    if (addr) (addr_is_peer ? p.peer : p.local) = port_of(addr, addrlen);
    if (addr && !addr_is_peer)   // a bind names the local port, 0 included
      p.service = connected && peer ? peer : p.local;
    else
      p.service = service_port(conn, e, addr, addrlen);
    return p;
  }

  // True when no rule can act on a call of type t on this socket: none for t at all, the
  // socket's cached decision is "none", or no rule names its family and service port (addr: the
  // address the call itself names, which decides the service port; nullptr for the socket's own).
  // Otherwise the general path decides, with every fact.
  // One instance per call type (the hot paths of close, connect and accept ask it), so the
  // out-of-line part has the type's cache slot as constants.
  template <filters::CallType T>
  [[gnu::always_inline]] bool rule_free(FdEntry& e, std::uint32_t bits, const sockaddr* addr,
                                        socklen_t addrlen) noexcept {
    if (!has_rules(T)) return true;
    if (!addr) {
      if (const std::uint16_t v = e.cached_rule(T)) return v == 1;
    } else {
      // A call that names its address (connect) is decided per call by that address's port:
      // inline when the answer computed ahead for the socket's family says "none" (RuleStarts).
      const RuleStarts& s = *starts_;
      if (s.none(s.row(cookie_family(e.cookie.load(std::memory_order_relaxed)), port_of(addr, addrlen)), T))
        return true;
    }
    return rule_free_by_port<T>(e, bits, addr, addrlen);
  }

  // The rule (index) that concerns call c (of type t) on socket e, -1 when none; caches per socket.
  int rule_for(const Call& c, filters::CallType t, FdEntry& e, std::uint32_t bits) noexcept;
  // The rule on socket() or socketpair() with these arguments, -1 when none.
  int socket_rule(const Call& c) const noexcept;
  // The rule on getaddrinfo() with these arguments, -1 when none.
  int lookup_rule(const Call& c) const noexcept;

 private:
  template <filters::CallType T>
  [[gnu::noinline]] bool rule_free_by_port(FdEntry& e, std::uint32_t bits, const sockaddr* addr,
                                           socklen_t addrlen) noexcept;
  [[gnu::noinline]] bool rule_free_by_family(FdEntry& e, filters::CallType t, int service, bool per_call) noexcept;

  // ports() of a call on a tracked socket.
  static Ports ports_of(const Call& c, const FdEntry& e, std::uint32_t bits) noexcept;
  // path_buf holds the unix path the facts point to (kPathBuf bytes).
  static constexpr std::size_t kPathBuf = 112;
  filters::SocketFacts facts_of(const Call& c, filters::CallType t, const FdEntry& e, std::uint32_t bits,
                                const Ports& p, char* path_buf) const noexcept;
  // The first rule after `after` that matches and is not switched off in the segment.
  int first_enabled(filters::CallType t, const filters::SocketFacts& f, int after) const noexcept;

  const filters::Table* table_ = nullptr;
  RuleProfile profile_;
  stats::Segment* seg_ = nullptr;
  const RuleStarts* starts_ = nullptr;   // built when the table has rules (RuleStarts)
};

}  // namespace shim
