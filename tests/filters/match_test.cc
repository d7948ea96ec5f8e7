// The matcher: Match::matches and Table::first_match, including the port-bitmap fast path that
// lets many port rules cost one bit test.
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "filters/table.h"
#include "tests/catch.h"

namespace filters {
namespace {

constexpr std::uint32_t bit(CallType t) { return 1u << static_cast<unsigned>(t); }

Rule rule(std::string name, std::uint32_t on, Match m = {}) {
  Rule r;
  r.name = std::move(name);
  r.on = on;
  r.match = m;
  r.action = Action{ActionKind::kFail, ECONNREFUSED, 0};
  return r;
}

Match port(std::uint16_t first, std::uint16_t last) {
  Match m;
  m.port = PortRange{first, last};
  return m;
}

SocketFacts tcp4(int service_port) { return {AF_INET, SOCK_STREAM, IPPROTO_TCP, service_port}; }

TEST_CASE("a Match needs every present key to equal the fact", "[filters]") {
  Match m;
  CHECK(m.matches(SocketFacts{}));  // no keys: matches even when nothing is known
  m.family = AF_INET;
  m.protocol = IPPROTO_TCP;
  CHECK(m.matches(tcp4(80)));
  CHECK_FALSE(m.matches({AF_INET6, SOCK_STREAM, IPPROTO_TCP, 80}));
  CHECK_FALSE(m.matches({AF_INET, SOCK_STREAM, IPPROTO_UDP, 80}));
  CHECK(m.matches({AF_INET, SOCK_DGRAM, IPPROTO_TCP, 80}));  // type is not a key here
}

TEST_CASE("an unknown fact never matches a present key", "[filters]") {
  Match m;
  m.type = SOCK_STREAM;
  CHECK_FALSE(m.matches({AF_INET, -1, IPPROTO_TCP, 80}));
  Match p = port(0, 65535);
  CHECK(p.matches(tcp4(0)));
  CHECK(p.matches(tcp4(65535)));
  CHECK_FALSE(p.matches(tcp4(-1)));
}

TEST_CASE("first_match returns the first matching rule in file order", "[filters]") {
  Match inet;
  inet.family = AF_INET;
  const Table t(0, {rule("other", bit(CallType::kSend)), rule("a", bit(CallType::kConnect), inet),
                    rule("b", bit(CallType::kConnect)), rule("c", bit(CallType::kConnect), inet)});
  CHECK(t.first_match(CallType::kConnect, tcp4(80)) == 1);
  CHECK(t.first_match(CallType::kConnect, {AF_UNIX, SOCK_STREAM, 0, -1}) == 2);
  CHECK(t.first_match(CallType::kSend, tcp4(80)) == 0);
  CHECK(t.first_match(CallType::kRecv, tcp4(80)) == -1);
  CHECK(t.has_rules_for(CallType::kConnect));
  CHECK_FALSE(t.has_rules_for(CallType::kRecv));
}

TEST_CASE("first_match after an index continues in file order", "[filters]") {
  // The shim uses this to skip rules switched off while the program runs.
  const Table t(0, {rule("a", bit(CallType::kConnect)), rule("skip", bit(CallType::kSend)),
                    rule("b", bit(CallType::kConnect)), rule("c", bit(CallType::kConnect), port(80, 80))});
  CHECK(t.first_match(CallType::kConnect, tcp4(80), -1) == 0);
  CHECK(t.first_match(CallType::kConnect, tcp4(80), 0) == 2);
  CHECK(t.first_match(CallType::kConnect, tcp4(80), 2) == 3);
  CHECK(t.first_match(CallType::kConnect, tcp4(81), 2) == -1);
  CHECK(t.first_match(CallType::kConnect, tcp4(80), 3) == -1);
}

TEST_CASE("the family index keeps file order across family and familyless rules", "[filters]") {
  Match inet6;
  inet6.family = AF_INET6;
  Match inet;
  inet.family = AF_INET;
  std::vector<Rule> rules;
  for (int i = 0; i < 100; ++i) rules.push_back(rule("v6-" + std::to_string(i), bit(CallType::kConnect), inet6));
  rules.push_back(rule("any", bit(CallType::kConnect)));
  rules.push_back(rule("v4", bit(CallType::kConnect), inet));
  const Table t(0, rules);
  CHECK(t.first_match(CallType::kConnect, tcp4(80)) == 100);
  CHECK(t.first_match(CallType::kConnect, tcp4(80), 100) == 101);
  CHECK(t.first_match(CallType::kConnect, {AF_INET6, SOCK_STREAM, IPPROTO_TCP, 80}) == 0);
  CHECK(t.first_match(CallType::kConnect, {-1, SOCK_STREAM, IPPROTO_TCP, 80}) == 100);  // unknown family
  CHECK(t.first_match(CallType::kConnect, {4000, SOCK_STREAM, 0, 80}) == 100);          // beyond the index
}

TEST_CASE("a rule on several call types is found under each", "[filters]") {
  const Table t(0, {rule("x", bit(CallType::kSend) | bit(CallType::kRecv), port(53, 53))});
  CHECK(t.first_match(CallType::kSend, tcp4(53)) == 0);
  CHECK(t.first_match(CallType::kRecv, tcp4(53)) == 0);
  CHECK(t.first_match(CallType::kConnect, tcp4(53)) == -1);
}

TEST_CASE("an empty table matches nothing", "[filters]") {
  const Table empty;
  CHECK(empty.first_match(CallType::kConnect, tcp4(80)) == -1);
  CHECK(empty.seed() == 0u);
  const Table none(5, {});
  CHECK(none.first_match(CallType::kSocket, SocketFacts{}) == -1);
  CHECK(none.seed() == 5u);
}

TEST_CASE("port rules: single ports, ranges and their edges", "[filters]") {
  const Table t(0, {rule("redis", bit(CallType::kConnect), port(6379, 6379)),
                    rule("high", bit(CallType::kConnect), port(1024, 2048)),
                    rule("top", bit(CallType::kConnect), port(65535, 65535))});
  CHECK(t.first_match(CallType::kConnect, tcp4(6379)) == 0);
  CHECK(t.first_match(CallType::kConnect, tcp4(6380)) == -1);
  CHECK(t.first_match(CallType::kConnect, tcp4(1023)) == -1);
  CHECK(t.first_match(CallType::kConnect, tcp4(1024)) == 1);
  CHECK(t.first_match(CallType::kConnect, tcp4(1500)) == 1);
  CHECK(t.first_match(CallType::kConnect, tcp4(2048)) == 1);
  CHECK(t.first_match(CallType::kConnect, tcp4(2049)) == -1);
  CHECK(t.first_match(CallType::kConnect, tcp4(65535)) == 2);
  CHECK(t.first_match(CallType::kConnect, tcp4(0)) == -1);
  CHECK(t.first_match(CallType::kConnect, tcp4(65536)) == -1);  // not a port: no match, no UB
}

TEST_CASE("port rules cannot match an unknown port", "[filters]") {
  const Table t(0, {rule("all", bit(CallType::kBind), port(0, 65535))});
  CHECK(t.first_match(CallType::kBind, tcp4(-1)) == -1);
  CHECK(t.first_match(CallType::kBind, tcp4(8080)) == 0);
}

TEST_CASE("a port in the bitmap still needs the rest of the match", "[filters]") {
  Match udp53 = port(53, 53);
  udp53.protocol = IPPROTO_UDP;
  const Table t(0, {rule("dns", bit(CallType::kSend), udp53)});
  CHECK(t.first_match(CallType::kSend, tcp4(53)) == -1);
  CHECK(t.first_match(CallType::kSend, {AF_INET, SOCK_DGRAM, IPPROTO_UDP, 53}) == 0);
}

TEST_CASE("portless rules mixed with port rules", "[filters]") {
  Match inet;
  inet.family = AF_INET;
  const Table t(0, {rule("http", bit(CallType::kConnect), port(80, 80)),
                    rule("inet", bit(CallType::kConnect), inet),
                    rule("https", bit(CallType::kConnect), port(443, 443))});
  CHECK(t.first_match(CallType::kConnect, tcp4(80)) == 0);
  CHECK(t.first_match(CallType::kConnect, tcp4(443)) == 1);  // file order: "inet" comes first
  CHECK(t.first_match(CallType::kConnect, tcp4(-1)) == 1);   // a portless rule needs no port
  CHECK(t.first_match(CallType::kConnect, {AF_INET6, SOCK_STREAM, IPPROTO_TCP, 443}) == 2);
  CHECK(t.first_match(CallType::kConnect, {AF_INET6, SOCK_STREAM, IPPROTO_TCP, 8443}) == -1);
  CHECK(t.first_match(CallType::kConnect, {AF_INET6, SOCK_STREAM, IPPROTO_TCP, -1}) == -1);
}

TEST_CASE("a hundred port rules that never match", "[filters]") {
  std::vector<Rule> rules;
  for (std::uint16_t i = 0; i < 100; ++i) {
    std::string name = "p";   // not "p" + std::to_string(i): GCC 12 -O3's false -Wrestrict
    name += std::to_string(i);
    rules.push_back(rule(name, bit(CallType::kConnect),
                         port(static_cast<std::uint16_t>(10000 + 2 * i),
                              static_cast<std::uint16_t>(10000 + 2 * i))));
  }
  const Table ports_only(0, rules);
  CHECK(ports_only.first_match(CallType::kConnect, tcp4(80)) == -1);
  CHECK(ports_only.first_match(CallType::kConnect, tcp4(10001)) == -1);  // gap between rules
  CHECK(ports_only.first_match(CallType::kConnect, tcp4(-1)) == -1);
  CHECK(ports_only.first_match(CallType::kConnect, tcp4(10198)) == 99);

  rules.push_back(rule("catch-all", bit(CallType::kConnect)));
  const Table with_fallback(0, rules);
  CHECK(with_fallback.first_match(CallType::kConnect, tcp4(80)) == 100);
  CHECK(with_fallback.first_match(CallType::kConnect, tcp4(-1)) == 100);
  CHECK(with_fallback.first_match(CallType::kConnect, tcp4(10002)) == 1);
}

TEST_CASE("a table holds at most kMaxRules rules", "[filters]") {
  std::vector<Rule> rules(kMaxRules + 1, rule("r", bit(CallType::kSend)));
  CHECK_THROWS_AS(Table(0, rules), std::length_error);
  rules.pop_back();
  const Table t(0, std::move(rules));
  CHECK(t.first_match(CallType::kSend, tcp4(1)) == 0);
}

}  // namespace
}  // namespace filters
