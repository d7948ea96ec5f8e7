// Matching on every match key beyond family/type/protocol/port: CIDRs (v4, v6, v4-mapped), the
// explicit port ends, globs (path, host, argv0 through select_program), role, socket options;
// plus the Need bits the shim reads to know which facts to gather.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "filters/table.h"
#include "tests/catch.h"

namespace filters {
namespace {

constexpr std::uint32_t bit(CallType t) { return 1u << static_cast<unsigned>(t); }

Address addr(const char* text) {
  Address a;
  a.family = inet_pton(AF_INET, text, a.bytes.data()) == 1 ? AF_INET : AF_INET6;
  if (a.family == AF_INET6) REQUIRE(inet_pton(AF_INET6, text, a.bytes.data()) == 1);
  return a;
}

Cidr cidr(const char* text, int prefix) {
  const Address a = addr(text);
  return Cidr{a.family, a.bytes, prefix};
}

TEST_CASE("CIDR: IPv4 prefixes, byte and bit boundaries", "[filters][match]") {
  const Cidr net8 = cidr("10.0.0.0", 8);
  CHECK(net8.contains(addr("10.0.0.0")));
  CHECK(net8.contains(addr("10.255.255.255")));
  CHECK_FALSE(net8.contains(addr("11.0.0.0")));
  const Cidr net20 = cidr("172.16.16.0", 20);
  CHECK(net20.contains(addr("172.16.31.255")));
  CHECK_FALSE(net20.contains(addr("172.16.32.0")));
  CHECK_FALSE(net20.contains(addr("172.16.15.255")));
  const Cidr host = cidr("127.0.0.1", 32);
  CHECK(host.contains(addr("127.0.0.1")));
  CHECK_FALSE(host.contains(addr("127.0.0.2")));
  CHECK(cidr("0.0.0.0", 0).contains(addr("203.0.113.9")));
  CHECK_FALSE(net8.contains(Address{}));   // unknown address
}

TEST_CASE("CIDR: IPv6, and IPv4 CIDRs match v4-mapped addresses", "[filters][match]") {
  const Cidr ula = cidr("fd00::", 8);
  CHECK(ula.contains(addr("fd12:3456::1")));
  CHECK_FALSE(ula.contains(addr("fe80::1")));
  CHECK_FALSE(ula.contains(addr("10.0.0.1")));
  const Cidr lo6 = cidr("::1", 128);
  CHECK(lo6.contains(addr("::1")));
  CHECK_FALSE(lo6.contains(addr("::2")));
  const Cidr lo4 = cidr("127.0.0.0", 8);
  CHECK(lo4.contains(addr("::ffff:127.0.0.1")));
  CHECK_FALSE(lo4.contains(addr("::ffff:128.0.0.1")));
  CHECK_FALSE(lo4.contains(addr("::127.0.0.1")));   // v4-compatible, not mapped
  CHECK_FALSE(cidr("::ffff:127.0.0.0", 104).contains(addr("127.0.0.1")));
}

TEST_CASE("glob: *, ?, classes, escapes", "[filters][match]") {
  CHECK(glob_match("*", ""));
  CHECK(glob_match("*", "anything/at/all"));
  CHECK(glob_match("redis-*", "redis-server"));
  CHECK_FALSE(glob_match("redis-*", "redis"));
  CHECK(glob_match("/run/app/*.sock", "/run/app/a.sock"));
  CHECK(glob_match("/run/app/*.sock", "/run/app/x/y.sock"));   // '/' is ordinary
  CHECK(glob_match("?", "a"));
  CHECK_FALSE(glob_match("?", ""));
  CHECK_FALSE(glob_match("?", "ab"));
  CHECK(glob_match("db[0-9].internal", "db7.internal"));
  CHECK_FALSE(glob_match("db[0-9].internal", "dbx.internal"));
  CHECK(glob_match("db[!0-9]", "dbx"));
  CHECK_FALSE(glob_match("db[!0-9]", "db3"));
  CHECK(glob_match("[]]", "]"));
  CHECK(glob_match("a\\*b", "a*b"));
  CHECK_FALSE(glob_match("a\\*b", "axb"));
  CHECK(glob_match("*a*b*c*", "xxaxxbxxcxx"));
  CHECK_FALSE(glob_match("*a*b*c*", "xxaxxcxxbxx"));
  CHECK(glob_match("@abstract*", "@abstract-name"));
  CHECK(glob_match("[ab", "[ab"));   // unclosed class: a literal '[' (the loader refuses it)
  // Backtracking that must not blow up: long runs against many stars.
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*b", std::string(200, 'a')));
}

TEST_CASE("explicit local and peer ports", "[filters][match]") {
  Match m;
  m.local_port = PortRange{1024, 65535};
  m.peer_port = PortRange{6379, 6379};
  SocketFacts f;
  f.local_port = 40000;
  f.peer_port = 6379;
  CHECK(m.matches(f));
  f.local_port = 80;
  CHECK_FALSE(m.matches(f));
  f.local_port = -1;
  CHECK_FALSE(m.matches(f));
  f.local_port = 40000;
  f.peer_port = 6380;
  CHECK_FALSE(m.matches(f));
}

TEST_CASE("peer and local CIDRs, path, role, options, host", "[filters][match]") {
  Match m;
  m.peer = cidr("127.0.0.1", 32);
  m.local = cidr("127.0.0.0", 8);
  m.path = "/run/app/*.sock";
  m.role = Role::kClient;
  m.level = IPPROTO_TCP;
  m.option = TCP_NODELAY;
  m.host = "*.test";
  SocketFacts f;
  f.peer = addr("127.0.0.1");
  f.local = addr("127.0.0.5");
  f.path = "/run/app/db.sock";
  f.role = Role::kClient;
  f.level = IPPROTO_TCP;
  f.option = TCP_NODELAY;
  f.host = "name.test";
  CHECK(m.matches(f));
  auto without = [&](auto change) {
    SocketFacts g = f;
    change(g);
    return m.matches(g);
  };
  CHECK_FALSE(without([](SocketFacts& g) { g.peer = addr("127.0.0.2"); }));
  CHECK_FALSE(without([](SocketFacts& g) { g.peer = Address{}; }));
  CHECK_FALSE(without([](SocketFacts& g) { g.local = addr("10.0.0.1"); }));
  CHECK_FALSE(without([](SocketFacts& g) { g.path = "/tmp/db.sock"; }));
  CHECK_FALSE(without([](SocketFacts& g) { g.path = nullptr; }));
  CHECK_FALSE(without([](SocketFacts& g) { g.role = Role::kServer; }));
  CHECK_FALSE(without([](SocketFacts& g) { g.role = Role::kUnknown; }));
  CHECK_FALSE(without([](SocketFacts& g) { g.level = SOL_SOCKET; }));
  CHECK_FALSE(without([](SocketFacts& g) { g.option = TCP_CORK; }));
  CHECK_FALSE(without([](SocketFacts& g) { g.option = -1; }));
  CHECK_FALSE(without([](SocketFacts& g) { g.host = "name.example"; }));
  CHECK_FALSE(without([](SocketFacts& g) { g.host = nullptr; }));
}

Rule on_connect(std::string name, Match m = {}) {
  Rule r;
  r.name = std::move(name);
  r.on = bit(CallType::kConnect);
  r.match = std::move(m);
  r.action.kind = ActionKind::kFail;
  r.action.err = ECONNREFUSED;
  return r;
}

TEST_CASE("select_program drops rules for other programs and keeps indices", "[filters][match]") {
  Match redis;
  redis.argv0 = "redis-*";
  Match curl;
  curl.argv0 = "curl";
  const std::vector<Rule> rules = {on_connect("redis", redis), on_connect("curl", curl),
                                   on_connect("any")};
  Table t(0, rules);
  CHECK(t.first_match(CallType::kConnect, SocketFacts{}) == 0);   // before selection: argv0 ignored
  t.select_program("curl");
  CHECK(t.first_match(CallType::kConnect, SocketFacts{}) == 1);
  CHECK(t.first_match(CallType::kConnect, SocketFacts{}, 1) == 2);
  t.select_program("redis-server");
  CHECK(t.first_match(CallType::kConnect, SocketFacts{}) == 0);
  CHECK(t.first_match(CallType::kConnect, SocketFacts{}, 0) == 2);
  Table only(0, {on_connect("curl", curl)});
  only.select_program("wget");
  CHECK_FALSE(only.has_rules_for(CallType::kConnect));
  CHECK(only.rules().size() == 1u);   // still there for names and stats
}

TEST_CASE("local_port-only rules are portless for the port bitmap", "[filters][match]") {
  Match local;
  local.local_port = PortRange{5000, 5000};
  Match svc;
  svc.port = PortRange{80, 80};
  const Table t(0, {on_connect("svc", svc), on_connect("local", local)});
  SocketFacts f;
  f.service_port = 9999;   // in no `port` key: the bitmap must not end the search
  f.local_port = 5000;
  CHECK(t.first_match(CallType::kConnect, f) == 1);
  f.service_port = 80;
  CHECK(t.first_match(CallType::kConnect, f) == 0);
}

TEST_CASE("needs() names the facts some rule on that call type uses", "[filters][match]") {
  Match peer;
  peer.peer = cidr("10.0.0.0", 8);
  Match path;
  path.path = "*.sock";
  Match role;
  role.role = Role::kServer;
  Match host;
  host.host = "*";
  Rule send_peer = on_connect("peer", peer);
  send_peer.on = bit(CallType::kSend);
  Rule recv_path = on_connect("path", path);
  recv_path.on = bit(CallType::kRecv);
  recv_path.when.after_bytes = 10;
  Rule close_role = on_connect("role", role);
  close_role.on = bit(CallType::kClose);
  close_role.when.after_connected_ms = 5;
  Rule gai = on_connect("gai", host);
  gai.on = bit(CallType::kGetaddrinfo);
  const Table t(0, {send_peer, recv_path, close_role, gai, on_connect("plain")});
  CHECK(t.needs(CallType::kSend) == kNeedAddresses);
  CHECK(t.needs(CallType::kRecv) == (kNeedPath | kNeedSocketBytes));
  CHECK(t.needs(CallType::kClose) == (kNeedRole | kNeedConnectTime));
  CHECK(t.needs(CallType::kGetaddrinfo) == kNeedHost);
  CHECK(t.needs(CallType::kConnect) == 0u);
  Match ports;
  ports.peer_port = PortRange{1, 2};
  CHECK(Table(0, {on_connect("p", ports)}).needs(CallType::kConnect) == kNeedAddresses);
}

}  // namespace
}  // namespace filters
