// The loader: valid files become the right Rules; every kind of mistake becomes one LoadError
// whose what() names file, line, column and key exactly.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>

#include "filters/table.h"
#include "tests/catch.h"

namespace filters {
namespace {

constexpr std::uint32_t bit(CallType t) { return 1u << static_cast<unsigned>(t); }

// what() of the error `text` gives, or "no error".
std::string load_error(std::string_view text) {
  try {
    load_table_text(text, "r.json");
  } catch (const LoadError& e) {
    return e.what();
  }
  return "no error";
}

// A one-rule file with `rule_body` spliced into the rule object after its name.
std::string one_rule(const std::string& rule_body) {
  return "{\"rules\": [\n  {\"name\": \"r\", " + rule_body + "}]}";
}

TEST_CASE("a valid file round-trips into the right rules", "[filters]") {
  const std::string text = R"({"seed": 7,
 "rules": [
   {"name": "refuse-redis", "on": ["connect"],
    "match": {"family": "inet", "type": "stream", "protocol": "tcp", "port": 6379},
    "when": {"nth": 2, "times": 1},
    "do": {"fail": "ECONNREFUSED"}},
   {"name": "dns-down", "on": "getaddrinfo", "do": {"fail": "EAI_AGAIN"}},
   {"name": "dns-errno", "on": ["getaddrinfo"], "do": {"fail": "ETIMEDOUT"}},
   {"name": "io", "on": ["send", "recv"],
    "match": {"family": 10, "type": 2, "protocol": 17, "port": "1024-65535"},
    "do": {"fail": "EWOULDBLOCK"}}]}
)";
  const Table t = load_table_text(text, "r.json");
  CHECK(t.seed() == 7u);
  REQUIRE(t.rules().size() == 4u);

  const Rule& redis = t.rules()[0];
  CHECK(redis.name == "refuse-redis");
  CHECK(redis.on == bit(CallType::kConnect));
  CHECK(redis.match.family == AF_INET);
  CHECK(redis.match.type == SOCK_STREAM);
  CHECK(redis.match.protocol == IPPROTO_TCP);
  REQUIRE(redis.match.port);
  CHECK(redis.match.port->first == 6379);
  CHECK(redis.match.port->last == 6379);
  CHECK(redis.when.nth == 2u);
  CHECK(redis.when.times == 1u);
  CHECK(redis.action.kind == ActionKind::kFail);
  CHECK(redis.action.err == ECONNREFUSED);
  CHECK(redis.action.eai == 0);
  CHECK(redis.pos.line == 3);
  CHECK(redis.pos.col == 4);

  const Rule& dns = t.rules()[1];
  CHECK(dns.on == bit(CallType::kGetaddrinfo));
  CHECK_FALSE(dns.match.family);
  CHECK_FALSE(dns.match.port);
  CHECK(dns.when.nth == 0u);
  CHECK(dns.when.times == 0u);
  CHECK(dns.action.err == 0);
  CHECK(dns.action.eai == EAI_AGAIN);

  const Rule& dns_errno = t.rules()[2];
  CHECK(dns_errno.action.err == ETIMEDOUT);
  CHECK(dns_errno.action.eai == EAI_SYSTEM);

  const Rule& io = t.rules()[3];
  CHECK(io.on == (bit(CallType::kSend) | bit(CallType::kRecv)));
  CHECK(io.match.family == 10);
  CHECK(io.match.type == 2);
  CHECK(io.match.protocol == 17);
  REQUIRE(io.match.port);
  CHECK(io.match.port->first == 1024);
  CHECK(io.match.port->last == 65535);
  CHECK(io.action.err == EAGAIN);
}

TEST_CASE("minimal files", "[filters]") {
  CHECK(load_table_text(R"({"rules": []})", "r.json").rules().empty());
  CHECK(load_table_text(R"({"rules": [], "seed": 18446744073709551615})", "r.json").seed() ==
        18446744073709551615u);
  const Table t = load_table_text(one_rule(R"("on": "close", "match": {}, "when": {},
      "do": {"fail": "EIO"})"), "r.json");
  CHECK(t.rules()[0].on == bit(CallType::kClose));
  CHECK_FALSE(t.rules()[0].match.protocol);
  CHECK(t.rules()[0].match.protocol == std::nullopt);
}

TEST_CASE("protocol names, including default and mptcp", "[filters]") {
  const auto protocol = [](const char* name) {
    return load_table_text(one_rule(std::string(R"("on": "socket", "match": {"protocol": ")") +
                                    name + R"("}, "do": {"fail": "EACCES"})"),
                           "r.json")
        .rules()[0]
        .match.protocol;
  };
  CHECK(protocol("default") == 0);
  CHECK(protocol("udp") == IPPROTO_UDP);
  CHECK(protocol("icmpv6") == IPPROTO_ICMPV6);
  CHECK(protocol("mptcp") == 262);
  CHECK(protocol("raw") == IPPROTO_RAW);
}

TEST_CASE("syntax errors name line and column", "[filters]") {
  CHECK(load_error("{\"rules\": [\n  {\"name\": \"r\",\n   \"on\": [\"connect\"]\n   \"do\": {}}]}") ==
        "r.json:4:4: syntax error while parsing object - unexpected string literal; expected '}'");
  CHECK(load_error("{\"rules\": [\n  {\"name\": \"r\", \"on\": connect}]}") ==
        "r.json:2:23: syntax error while parsing value - invalid literal");
  CHECK(load_error("") ==
        "r.json:1:1: syntax error while parsing value - unexpected end of input; expected '[', "
        "'{', or a literal");
  CHECK(load_error("{\"rules\": [], \"rules\": []}") ==
        "r.json:1:15: rules: duplicate key \"rules\" (first at 1:2)");
}

TEST_CASE("unknown keys are errors at the key", "[filters]") {
  CHECK(load_error(one_rule(R"("on": "connect", "match": {"family": "inet", "prot": "tcp"},
    "do": {"fail": "EIO"})")) ==
        "r.json:2:62: rules[0].match.prot: unknown key \"prot\" in rules[0].match (did you mean "
        "port?)");
  CHECK(load_error(R"({"rules": [], "sed": 1})") ==
        "r.json:1:15: sed: unknown key \"sed\" in the top-level object (did you mean seed?)");
  // The first one written, not the first in the DOM's sorted order.
  CHECK(load_error(one_rule(R"("zz": 1, "aa": 2, "on": "send", "do": {"fail": "EIO"})")) ==
        "r.json:2:17: rules[0].zz: unknown key \"zz\" in rules[0] (known: name, on, match, when, "
        "do, then, enabled)");
  CHECK(load_error(one_rule(R"("on": "send", "do": {"fail": "EIO", "delay": 5})")) ==
        "r.json:2:53: rules[0].do.delay: unknown key \"delay\" in rules[0].do (did you mean "
        "delay_ms?)");
  CHECK(load_error(one_rule(R"("on": "send", "when": {"every": 5}, "do": {"fail": "EIO"})")) ==
        "r.json:2:40: rules[0].when.every: unknown key \"every\" in rules[0].when (known: "
        "probability, nth, after, times, from_ms, until_ms, after_bytes, after_connected_ms, "
        "count)");
  CHECK(load_error(one_rule(R"("on": "send", "a.b": 1, "do": {"fail": "EIO"})")) ==
        "r.json:2:31: rules[0][\"a.b\"]: unknown key \"a.b\" in rules[0] (known: name, on, match, "
        "when, do, then, enabled)");
}

TEST_CASE("wrong JSON types are errors at the value", "[filters]") {
  CHECK(load_error(one_rule(R"("on": "connect", "match": {"port": "x"}, "do": {"fail": "EIO"})"))
            .find("rules[0].match.port") != std::string::npos);
  CHECK(load_error(one_rule(R"("on": "send", "when": {"nth": "2"}, "do": {"fail": "EIO"})")) ==
        "r.json:2:47: rules[0].when.nth: expected an integer, got string");
  CHECK(load_error(one_rule(R"("on": "send", "when": {"times": 1.5}, "do": {"fail": "EIO"})")) ==
        "r.json:2:49: rules[0].when.times: expected an integer, got number 1.5");
  CHECK(load_error(R"({"rules": {}})") ==
        "r.json:1:11: rules: expected an array of rules, got object");
  CHECK(load_error(R"([])") == "r.json:1:1: expected an object, got array");
  CHECK(load_error(R"({"rules": [7]})") == "r.json:1:12: rules[0]: expected an object, got integer 7");
  CHECK(load_error(R"({"rules": [{"name": 1, "on": "send", "do": {"fail": "EIO"}}]})") ==
        "r.json:1:21: rules[0].name: expected a string, got integer 1");
  CHECK(load_error(one_rule(R"("on": {"connect": true}, "do": {"fail": "EIO"})")) ==
        "r.json:2:23: rules[0].on: expected a call type name or an array of them, got object");
  CHECK(load_error(one_rule(R"("on": ["send", 3], "do": {"fail": "EIO"})")) ==
        "r.json:2:32: rules[0].on[1]: expected a call type name, got integer 3");
  CHECK(load_error(one_rule(R"("on": "send", "match": [], "do": {"fail": "EIO"})")) ==
        "r.json:2:40: rules[0].match: expected an object, got array");
  CHECK(load_error(one_rule(R"("on": "send", "match": {"family": true}, "do": {"fail": "EIO"})")) ==
        "r.json:2:51: rules[0].match.family: expected a name or an integer, got boolean");
}

TEST_CASE("numbers out of range", "[filters]") {
  CHECK(load_error(R"({"rules": [], "seed": -1})") == "r.json:1:23: seed: must be at least 0, got -1");
  CHECK(load_error(one_rule(R"("on": "send", "when": {"nth": 0}, "do": {"fail": "EIO"})")) ==
        "r.json:2:47: rules[0].when.nth: must be at least 1, got 0");
  CHECK(load_error(one_rule(R"("on": "send", "match": {"type": 2049}, "do": {"fail": "EIO"})")) ==
        "r.json:2:49: rules[0].match.type: 2049 is out of range 0..15");
  CHECK(load_error(one_rule(R"("on": "send", "match": {"protocol": -6}, "do": {"fail": "EIO"})")) ==
        "r.json:2:53: rules[0].match.protocol: -6 is out of range 0..65535");
}

TEST_CASE("misspelt names get a suggestion", "[filters]") {
  CHECK(load_error(one_rule(R"("on": "connect", "do": {"fail": "ECONREFUSED"})")) ==
        "r.json:2:49: rules[0].do.fail: unknown errno name \"ECONREFUSED\" (did you mean "
        "ECONNREFUSED?)");
  CHECK(load_error(one_rule(R"("on": "connect", "do": {"fail": "NOPE_NOPE"})")) ==
        "r.json:2:49: rules[0].do.fail: unknown errno name \"NOPE_NOPE\"");
  CHECK(load_error(one_rule(R"("on": "getaddrinfo", "do": {"fail": "EAI_NONAM"})")) ==
        "r.json:2:53: rules[0].do.fail: unknown errno or EAI name \"EAI_NONAM\" (did you mean "
        "EAI_NONAME?)");
  CHECK(load_error(one_rule(R"("on": ["socket", "conect"], "do": {"fail": "EIO"})")) ==
        "r.json:2:34: rules[0].on[1]: unknown call type \"conect\" (did you mean connect?)");
  CHECK(load_error(one_rule(R"("on": "xx", "do": {"fail": "EIO"})")) ==
        "r.json:2:23: rules[0].on: unknown call type \"xx\" (known: socket, connect, bind, listen, "
        "accept, close, shutdown, getsockopt, setsockopt, send, recv, getaddrinfo)");
  CHECK(load_error(one_rule(R"("on": "send", "match": {"family": "inte"}, "do": {"fail": "EIO"})")) ==
        "r.json:2:51: rules[0].match.family: unknown family \"inte\" (did you mean inet?)");
  CHECK(load_error(one_rule(R"("on": "send", "match": {"type": "tcp"}, "do": {"fail": "EIO"})")) ==
        "r.json:2:49: rules[0].match.type: unknown socket type \"tcp\" (known: stream, dgram, "
        "seqpacket, raw, rdm, or a number)");
}

TEST_CASE("fail takes names only", "[filters]") {
  CHECK(load_error(one_rule(R"("on": "connect", "do": {"fail": 111})")) ==
        "r.json:2:49: rules[0].do.fail: expected an errno name like \"ECONNREFUSED\", got integer "
        "111: errno numbers differ between platforms, so rules use names (111 is ECONNREFUSED "
        "here)");
  CHECK(load_error(one_rule(R"("on": "connect", "do": {"fail": null})")) ==
        "r.json:2:49: rules[0].do.fail: expected an errno name, got null");
}

TEST_CASE("EAI names only on rules that are on getaddrinfo alone", "[filters]") {
  CHECK(load_error(one_rule(R"("on": ["connect"], "do": {"fail": "EAI_AGAIN"})")) ==
        "r.json:2:51: rules[0].do.fail: EAI_AGAIN is a getaddrinfo error: only a rule whose "
        "\"on\" is exactly [\"getaddrinfo\"] can use it in \"do\"; use an errno name here");
  CHECK(load_error(one_rule(R"("on": ["getaddrinfo", "connect"], "do": {"fail": "EAI_FAIL"})"))
            .find("EAI_FAIL is a getaddrinfo error") != std::string::npos);
  CHECK(load_error(one_rule(R"("on": "getaddrinfo", "do": {"fail": "EAI_SYSTEM"})")) ==
        "r.json:2:53: rules[0].do.fail: EAI_SYSTEM means \"see errno\": write the errno name "
        "instead (e.g. \"ECONNREFUSED\") and getaddrinfo returns EAI_SYSTEM with that errno");
  // An errno on a rule that includes getaddrinfo travels through EAI_SYSTEM there.
  const Table t = load_table_text(
      one_rule(R"("on": ["getaddrinfo", "connect"], "do": {"fail": "ENETDOWN"})"), "r.json");
  CHECK(t.rules()[0].action.err == ENETDOWN);
  CHECK(t.rules()[0].action.eai == EAI_SYSTEM);
}

TEST_CASE("rule names are required, non-empty and unique", "[filters]") {
  CHECK(load_error(R"({"rules": [
  {"name": "a", "on": "send", "do": {"fail": "EIO"}},
  {"name": "b", "on": "send", "do": {"fail": "EIO"}},
  {"name": "a", "on": "recv", "do": {"fail": "EIO"}}]})") ==
        "r.json:4:12: rules[2].name: duplicate rule name \"a\": rules[0] (at 2:12) has it too");
  CHECK(load_error(R"({"rules": [{"name": "", "on": "send", "do": {"fail": "EIO"}}]})") ==
        "r.json:1:21: rules[0].name: must not be empty");
  CHECK(load_error(R"({"rules": [{"name": "a\nb", "on": "send", "do": {"fail": "EIO"}}]})") ==
        "r.json:1:21: rules[0].name: must not contain control characters");
  CHECK(load_error(R"({"rules": [{"on": "send", "do": {"fail": "EIO"}}]})") ==
        "r.json:1:12: rules[0]: missing required key \"name\"");
}

TEST_CASE("missing required keys point at the object's opening brace", "[filters]") {
  CHECK(load_error("{\"rules\": [\n  {\"name\": \"r\",\n   \"on\": [\"connect\"]}]}") ==
        "r.json:2:3: rules[0]: needs an action: \"do\" (before the call), \"then\" (after it), "
        "or both");
  CHECK(load_error(one_rule(R"("do": {"fail": "EIO"})")) ==
        "r.json:2:3: rules[0]: missing required key \"on\"");
  CHECK(load_error(one_rule(R"("on": "send", "do": {})")) ==
        "r.json:2:37: rules[0].do: is empty: name an action (known: fail, delay_ms, jitter_ms, "
        "hang_ms, short, reset, eagain, eintr, drop, duplicate, corrupt, inbound_loss, filter, rate)");
  CHECK(load_error("\n  {\"seed\": 1}") == "r.json:2:3: missing required key \"rules\"");
}

TEST_CASE("on must name call types, each once", "[filters]") {
  CHECK(load_error(one_rule(R"("on": [], "do": {"fail": "EIO"})")) ==
        "r.json:2:23: rules[0].on: must name at least one call type (known: socket, connect, bind, "
        "listen, accept, close, shutdown, getsockopt, setsockopt, send, recv, getaddrinfo)");
  CHECK(load_error(one_rule(R"("on": ["send", "recv", "send"], "do": {"fail": "EIO"})")) ==
        "r.json:2:40: rules[0].on[2]: \"send\" is listed twice");
}

TEST_CASE("port numbers and ranges", "[filters]") {
  const auto port_error = [](const char* port) {
    return load_error(one_rule(std::string(R"("on": "connect", "match": {"port": )") + port +
                               R"(}, "do": {"fail": "EIO"})"));
  };
  CHECK(port_error("70000") == "r.json:2:52: rules[0].match.port: port 70000 is out of range 0..65535");
  CHECK(port_error("-1") == "r.json:2:52: rules[0].match.port: port -1 is out of range 0..65535");
  CHECK(port_error(R"("70000")") ==
        "r.json:2:52: rules[0].match.port: expected a port range \"FIRST-LAST\" like "
        "\"1024-65535\", got \"70000\" (write a single port as a number)");
  CHECK(port_error(R"("1024-70000")") ==
        "r.json:2:52: rules[0].match.port: port range \"1024-70000\": 70000 is out of range "
        "0..65535");
  CHECK(port_error(R"("2000-1000")") ==
        "r.json:2:52: rules[0].match.port: port range \"2000-1000\" is reversed: 2000 > 1000");
  CHECK(port_error(R"("1-2-3")").find("expected a port range") != std::string::npos);
  CHECK(port_error(R"(" 1-2")").find("expected a port range") != std::string::npos);
  CHECK(port_error(R"("-5")").find("expected a port range") != std::string::npos);
  CHECK(port_error(R"("99999999999999999999-1")").find("expected a port range") !=
        std::string::npos);
  CHECK(port_error("true") ==
        "r.json:2:52: rules[0].match.port: expected a port (0..65535) or a range like "
        "\"1024-65535\", got boolean");
  CHECK(port_error(R"("7-7")") == "no error");
  CHECK(port_error("0") == "no error");
}

TEST_CASE("reset needs a match limited to TCP", "[filters]") {
  // SO_LINGER 0 and close: an RST on TCP, but on a unix or UDP socket the call would fail with
  // ECONNRESET while the connection stayed up.
  const auto reset_error = [](const std::string& match) {
    return load_error(one_rule(R"("on": "send", )" + match + R"("do": {"reset": true})"));
  };
  const auto want = [](int col, const std::string& reason) {
    return "r.json:2:" + std::to_string(col) +
           ": rules[0].do.reset: reset is a TCP abort (the peer sees an RST), so the rule must "
           "match TCP sockets only, with \"protocol\": \"tcp\"; " + reason;
  };
  CHECK(reset_error(R"("match": {"family": "unix"}, )") ==
        want(76, "its match has family unix, which has no TCP"));
  CHECK(reset_error(R"("match": {"family": "unix", "protocol": "tcp"}, )") ==
        want(95, "its match has family unix, which has no TCP"));
  CHECK(reset_error(R"("match": {"type": "dgram"}, )") ==
        want(75, "its match has type dgram, which is not TCP's"));
  CHECK(reset_error(R"("match": {"protocol": "udp"}, )") == want(77, "its match has protocol udp"));
  CHECK(reset_error(R"("match": {"protocol": "mptcp"}, )") == want(79, "its match has protocol mptcp"));
  CHECK(reset_error(R"("match": {"type": "stream"}, )") ==
        want(76, "without it the rule would also act on unix and UDP sockets"));
  CHECK(reset_error("") == want(47, "without it the rule would also act on unix and UDP sockets"));
  CHECK(reset_error(R"("match": {"protocol": "tcp"}, )") == "no error");
  CHECK(reset_error(R"("match": {"protocol": 6, "family": "inet6", "type": "stream"}, )") == "no error");
}

TEST_CASE("LoadError carries its parts", "[filters]") {
  try {
    load_table_text(one_rule(R"("on": "send", "do": {"fail": "EIOO"})"), "dir/x.json");
    FAIL("no error");
  } catch (const LoadError& e) {
    CHECK(e.file() == "dir/x.json");
    CHECK(e.line() == 2);
    CHECK(e.col() == 46);
    CHECK(e.key() == "rules[0].do.fail");
    CHECK(e.message() == "unknown errno name \"EIOO\" (did you mean EIO?)");
  }
}

TEST_CASE("files: read, or an error saying why not", "[filters]") {
  char dir_template[] = "/tmp/filters_test_XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/rules.json";
  {
    std::ofstream out(path);
    out << R"({"seed": 3, "rules": [{"name": "x", "on": "bind", "do": {"fail": "EADDRINUSE"}}]})";
  }
  const Table t = load_table_file(path);
  CHECK(t.seed() == 3u);
  CHECK(t.rules()[0].action.err == EADDRINUSE);

  const auto file_error = [](const std::string& p) -> std::string {
    try {
      load_table_file(p);
    } catch (const LoadError& e) {
      CHECK(e.line() == 0);
      CHECK(e.col() == 0);
      return e.what();
    }
    return "no error";
  };
  CHECK(file_error(dir + "/missing.json") ==
        dir + "/missing.json: cannot read: No such file or directory");
  CHECK(file_error(dir) == dir + ": not a regular file or pipe (directory)");

  std::remove(path.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace filters
