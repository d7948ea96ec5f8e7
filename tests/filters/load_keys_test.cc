// Every key of the rule language loads into the right field: the issue's example, each match key,
// each trigger, each `do` and `then` action, and `enabled`.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "bpfvm/interpreter.h"
#include "filters/table.h"
#include "tests/catch.h"
#include "tests/filters/expressions.h"

namespace filters {
namespace {

constexpr std::uint32_t bit(CallType t) { return 1u << static_cast<unsigned>(t); }

Rule only_rule(const std::string& body) {
  const Table t = load_table_text("{\"rules\": [{\"name\": \"r\", " + body + "}]}", "r.json");
  REQUIRE(t.rules().size() == 1u);
  return t.rules()[0];
}

Address addr(const char* text) {
  Address a;
  a.family = AF_INET;
  REQUIRE(inet_pton(AF_INET, text, a.bytes.data()) == 1);
  return a;
}

TEST_CASE("the issue's example loads, key by key", "[filters][keys]") {
  // As in the issue, but with its `then` in a rule of its own: a `do` that fails the call leaves
  // no result for a `then` to change, and the loader says so.
  const Table t = load_table_text(R"({"seed": 7,
 "rules": [
  {"name": "flaky-redis", "on": ["connect"],
   "match": {"family": "inet", "type": "stream", "protocol": "tcp",
             "peer": "127.0.0.1/32", "port": 6379, "local_port": "1024-65535",
             "path": "/run/app/*.sock", "argv0": "redis-*"},
   "when": {"probability": 0.3, "nth": 3, "after": 2, "times": 10, "from_ms": 0, "until_ms": 5000},
   "do":   {"fail": "ECONNREFUSED"}},
  {"name": "slow-connect", "on": "connect",
   "then": {"so_error": "ETIMEDOUT"}}]})",
                                  "r.json");
  REQUIRE(t.rules().size() == 2u);
  const Rule& r = t.rules()[0];
  CHECK(r.on == bit(CallType::kConnect));
  CHECK(r.match.family == AF_INET);
  CHECK(r.match.type == SOCK_STREAM);
  CHECK(r.match.protocol == IPPROTO_TCP);
  REQUIRE(r.match.peer);
  CHECK(r.match.peer->family == AF_INET);
  CHECK(r.match.peer->prefix == 32);
  CHECK(r.match.peer->contains(addr("127.0.0.1")));
  CHECK(r.match.port->first == 6379);
  CHECK(r.match.local_port->first == 1024);
  CHECK(r.match.local_port->last == 65535);
  CHECK(r.match.path == "/run/app/*.sock");
  CHECK(r.match.argv0 == "redis-*");
  CHECK(r.when.probability == 0.3);
  CHECK(r.when.nth == 3u);
  CHECK(r.when.after == 2u);
  CHECK(r.when.times == 10u);
  CHECK(r.when.from_ms == 0u);
  CHECK(r.when.until_ms == 5000u);
  CHECK(r.when.count == Count::kRun);
  CHECK(r.action.kind == ActionKind::kFail);
  CHECK(r.action.err == ECONNREFUSED);
  CHECK(r.then.kind == AfterKind::kNone);
  CHECK(r.enabled);
  const Rule& s = t.rules()[1];
  CHECK(s.action.kind == ActionKind::kNone);
  CHECK_FALSE(s.action.acts());
  CHECK(s.then.kind == AfterKind::kSoError);
  CHECK(s.then.err == ETIMEDOUT);
}

TEST_CASE("match: role, peer_port, local CIDR, IPv6", "[filters][keys]") {
  const Rule r = only_rule(R"("on": ["send", "recv"],
      "match": {"role": "server", "peer_port": 5432, "local": "fd00::/8", "peer": "::1"},
      "do": {"eagain": true})");
  CHECK(r.match.role == Role::kServer);
  CHECK(r.match.peer_port->first == 5432);
  CHECK(r.match.peer_port->last == 5432);
  CHECK(r.match.local->family == AF_INET6);
  CHECK(r.match.local->prefix == 8);
  CHECK(r.match.local->bytes[0] == 0xfd);
  CHECK(r.match.peer->prefix == 128);
  CHECK(r.match.peer->bytes[15] == 1);
  CHECK(only_rule(R"("on": "close", "match": {"role": "client"}, "do": {"eintr": true})")
            .match.role == Role::kClient);
}

TEST_CASE("match: level and option by name or number", "[filters][keys]") {
  const Rule named = only_rule(R"("on": "setsockopt",
      "match": {"level": "IPPROTO_TCP", "option": "TCP_NODELAY"}, "do": {"fail": "ENOPROTOOPT"})");
  CHECK(named.match.level == IPPROTO_TCP);
  CHECK(named.match.option == TCP_NODELAY);
  // The option's name sets its level.
  const Rule implied = only_rule(R"("on": ["getsockopt", "setsockopt"],
      "match": {"option": "SO_RCVBUF"}, "do": {"fail": "EINVAL"})");
  CHECK(implied.match.level == SOL_SOCKET);
  CHECK(implied.match.option == SO_RCVBUF);
  const Rule alias = only_rule(R"("on": "getsockopt",
      "match": {"level": "SOL_TCP", "option": "TCP_INFO"}, "do": {"fail": "EINVAL"})");
  CHECK(alias.match.level == IPPROTO_TCP);
  const Rule numbers = only_rule(R"("on": "getsockopt",
      "match": {"level": 1, "option": 4}, "do": {"fail": "EINVAL"})");
  CHECK(numbers.match.level == SOL_SOCKET);
  CHECK(numbers.match.option == SO_ERROR);
  const Rule v6 = only_rule(R"("on": "setsockopt",
      "match": {"option": "IPV6_V6ONLY"}, "do": {"fail": "EINVAL"})");
  CHECK(v6.match.level == IPPROTO_IPV6);
  CHECK(v6.match.option == IPV6_V6ONLY);
}

TEST_CASE("match: host on getaddrinfo", "[filters][keys]") {
  const Rule r = only_rule(R"("on": "getaddrinfo", "match": {"host": "*.internal", "port": 443},
      "do": {"fail": "EAI_NONAME", "delay_ms": 200})");
  CHECK(r.match.host == "*.internal");
  CHECK(r.action.kind == ActionKind::kFail);
  CHECK(r.action.eai == EAI_NONAME);
  CHECK(r.action.err == 0);
  CHECK(r.action.delay_ms == 200u);
}

TEST_CASE("when: per-socket triggers", "[filters][keys]") {
  const Rule r = only_rule(R"("on": "recv", "match": {"protocol": "tcp"},
      "when": {"after_bytes": 65536, "after_connected_ms": 1500, "count": "socket"},
      "do": {"reset": true})");
  CHECK(r.when.after_bytes == 65536u);
  CHECK(r.when.after_connected_ms == 1500u);
  CHECK(r.when.count == Count::kSocket);
  CHECK(r.action.kind == ActionKind::kReset);
  CHECK(only_rule(R"("on": "send", "when": {"count": "run", "probability": 0}, "do": {"eintr": true})")
            .when.probability == 0.0);
  CHECK(only_rule(R"("on": "send", "when": {"probability": 1}, "do": {"eintr": true})")
            .when.probability == 1.0);
}

TEST_CASE("do: every action", "[filters][keys]") {
  const Rule delay = only_rule(R"("on": "connect", "do": {"delay_ms": 100, "jitter_ms": 50})");
  CHECK(delay.action.kind == ActionKind::kNone);
  CHECK(delay.action.delay_ms == 100u);
  CHECK(delay.action.jitter_ms == 50u);
  CHECK(delay.action.acts());
  CHECK_FALSE(delay.action.skips_call());

  const Rule hang = only_rule(R"("on": "connect", "do": {"hang_ms": 3000})");
  CHECK(hang.action.kind == ActionKind::kHang);
  CHECK(hang.action.hang_ms == 3000u);
  CHECK(hang.action.err == ETIMEDOUT);
  const Rule hang_err = only_rule(R"("on": "recv", "do": {"fail": "ECONNRESET", "hang_ms": 10, "delay_ms": 5})");
  CHECK(hang_err.action.kind == ActionKind::kHang);
  CHECK(hang_err.action.err == ECONNRESET);
  CHECK(hang_err.action.delay_ms == 5u);

  const Rule shrt = only_rule(R"("on": ["send", "recv"], "do": {"short": 7, "delay_ms": 1})");
  CHECK(shrt.action.kind == ActionKind::kShort);
  CHECK(shrt.action.count == 7u);
  CHECK_FALSE(shrt.action.skips_call());

  CHECK(only_rule(R"("on": "send", "do": {"eagain": true})").action.kind == ActionKind::kEagain);
  CHECK(only_rule(R"("on": "accept", "do": {"eintr": true})").action.kind == ActionKind::kEintr);
  const Rule drop = only_rule(R"("on": "send", "match": {"type": "dgram"}, "do": {"drop": true})");
  CHECK(drop.action.kind == ActionKind::kDrop);
  CHECK(drop.action.skips_call());
  CHECK(only_rule(R"("on": "send", "match": {"protocol": "udp"}, "do": {"duplicate": true})")
            .action.kind == ActionKind::kDuplicate);
  const Rule corrupt = only_rule(R"("on": "send", "do": {"corrupt": 3})");
  CHECK(corrupt.action.kind == ActionKind::kCorrupt);
  CHECK(corrupt.action.count == 3u);
  CHECK_FALSE(corrupt.action.skips_call());
}

TEST_CASE("do: inbound_loss keeps its fraction and the threshold the shim's filter compares", "[filters][keys]") {
  const Rule half = only_rule(R"("on": "bind", "match": {"protocol": "udp"}, "do": {"inbound_loss": 0.5})");
  CHECK(half.action.kind == ActionKind::kInboundLoss);
  CHECK(half.action.loss == 0.5);
  CHECK(half.action.loss_threshold == 0x7fffffffu);   // drop when the draw is below 2^31
  CHECK_FALSE(half.action.skips_call());
  const Rule all = only_rule(R"("on": ["socket", "connect", "accept"], "match": {"family": "inet6"},
                               "do": {"inbound_loss": 1, "delay_ms": 1}, "then": {"fail": "EINTR"})");
  CHECK(all.action.loss_threshold == 0xffffffffu);
  CHECK(all.action.delay_ms == 1u);
  // Any IP-only key will do in place of a family.
  CHECK(only_rule(R"("on": "connect", "match": {"port": 80}, "do": {"inbound_loss": 0.1})").action.loss == 0.1);
  CHECK(describe(load_table_text(R"({"rules": [{"name": "l", "on": "accept", "match": {"local": "127.0.0.1"},
                                     "do": {"inbound_loss": 0.1}}]})", "t.json"))
            .find("do inbound_loss=0.1") != std::string::npos);
}

TEST_CASE("do: rate paces TCP sockets, in bytes a second from the units written", "[filters][keys]") {
  const Rule r = only_rule(R"("on": ["connect", "accept"], "match": {"protocol": "tcp"}, "do": {"rate": "1MiB/s"})");
  CHECK(r.action.kind == ActionKind::kRate);
  CHECK(r.action.rate == 1048576u);
  CHECK(r.action.rate_text.view() == "1MiB/s");
  CHECK_FALSE(r.action.skips_call());
  CHECK(parse_rate("100B/s") == 100u);
  CHECK(parse_rate("512 KiB/s") == 524288u);
  CHECK(parse_rate("1.5MiB/s") == 1572864u);
  CHECK(parse_rate("8kbit/s") == 1000u);
  CHECK(parse_rate("8mbit/s") == 1000000u);
  CHECK(parse_rate("4095MiB/s") == 4293918720u);
  std::string why;
  CHECK_FALSE(parse_rate("0MiB/s", &why));
  CHECK(why == "must be at least 1 B/s, got \"0MiB/s\"");
  CHECK_FALSE(parse_rate("1MB/s", &why));
  CHECK(why == "unknown unit \"MB/s\" (known: B/s, KiB/s, MiB/s, kbit/s or mbit/s)");
  CHECK_FALSE(parse_rate("fast", &why));
  CHECK_FALSE(parse_rate("-1MiB/s"));
  CHECK_FALSE(parse_rate("1e3B/s"));
  CHECK_FALSE(parse_rate("4096MiB/s", &why));
  CHECK(why == "too large (at most 4294967295 B/s)");
  CHECK_FALSE(parse_rate("0.1B/s"));   // rounds to 0
  CHECK(describe(load_table_text(R"({"rules": [{"name": "l", "on": "accept", "match": {"protocol": "tcp"},
                                     "do": {"rate": "2mbit/s"}}]})", "t.json"))
            .find("do rate=2mbit/s (250000 B/s)") != std::string::npos);
}

TEST_CASE("do: filter limits inbound_loss to the packets its tcpdump expression matches", "[filters][keys]") {
  test::register_expression_compiler();
  const Rule r = only_rule(R"("on": "bind", "match": {"protocol": "udp"},
                              "do": {"inbound_loss": 1, "filter": "udp src port 7"})");
  REQUIRE(r.action.filter_len > 0);
  CHECK(r.action.filter_text == "udp src port 7");
  CHECK(describe(load_table_text(R"({"rules": [{"name": "l", "on": "bind", "match": {"family": "inet"},
                                     "do": {"inbound_loss": 0.5, "filter": "udp port 53"}}]})", "t.json"))
            .find(R"(do inbound_loss=0.5 filter="udp port 53")") != std::string::npos);
  std::array<bpfvm::Instruction, bpfvm::kMaxComposedLossFilter> prog{};
  const std::size_t n = loss_program(r.action, prog);
  auto valid = bpfvm::validate(bpfvm::Program(prog.begin(), prog.begin() + static_cast<std::ptrdiff_t>(n)));
  REQUIRE(valid.has_value());
  // A socket filter sees a UDP datagram from its UDP header; the IP header is at SKF_NET_OFF.
  const auto datagram = [](std::uint8_t src_port) {
    std::vector<std::uint8_t> ip = {0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
                                    0, src_port, 0x23, 0x28, 0, 12, 0, 0, 'a', 'b', 'c', 'd'};
    return ip;
  };
  for (const std::uint8_t port : {7, 8}) {
    const std::vector<std::uint8_t> packet = datagram(port);
    bpfvm::Context ctx;
    ctx.packet = std::span(packet).subspan(20);
    ctx.net = std::span<const std::uint8_t>(packet);
    ctx.anc.random = 0x12345678;
    INFO("source port " << int(port));
    CHECK(bpfvm::run(*valid, ctx) == (port == 7 ? 0u : 0xffffffffu));   // 1: every match dropped
  }
}

TEST_CASE("then: every after-action, alone or after a do that runs the call", "[filters][keys]") {
  const Rule fail = only_rule(R"("on": "close", "then": {"fail": "EINTR"})");
  CHECK(fail.then.kind == AfterKind::kFail);
  CHECK(fail.then.err == EINTR);
  const Rule so = only_rule(R"("on": "connect", "do": {"delay_ms": 20}, "then": {"so_error": "ECONNREFUSED"})");
  CHECK(so.then.kind == AfterKind::kSoError);
  CHECK(so.then.err == ECONNREFUSED);
  CHECK(so.action.delay_ms == 20u);
  const Rule trunc = only_rule(R"("on": "recv", "then": {"truncate": 4})");
  CHECK(trunc.then.kind == AfterKind::kTruncate);
  CHECK(trunc.then.count == 4u);
  const Rule corrupt = only_rule(R"("on": "recv", "do": {"short": 100}, "then": {"corrupt": 2})");
  CHECK(corrupt.then.kind == AfterKind::kCorrupt);
  CHECK(corrupt.then.count == 2u);
  CHECK(corrupt.action.kind == ActionKind::kShort);
}

TEST_CASE("enabled and $schema", "[filters][keys]") {
  CHECK_FALSE(only_rule(R"("on": "send", "do": {"eintr": true}, "enabled": false)").enabled);
  CHECK(only_rule(R"("on": "send", "do": {"eintr": true}, "enabled": true)").enabled);
  const Table t = load_table_text(R"({"$schema": "../filters.schema.json", "rules": []})", "r.json");
  CHECK(t.rules().empty());
}

}  // namespace
}  // namespace filters
