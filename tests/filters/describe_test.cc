// describe(): what `sockshim check` prints, in the rule file's own words: KEY=VALUE pairs under
// match/when/do/then, which read back (round trip) into the same table.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "filters/table.h"
#include "tests/catch.h"

namespace filters {
namespace {

using nlohmann::json;

// Every key of the language at least once.
constexpr const char* kEveryKey = R"({"seed": 7,
 "rules": [
   {"name": "refuse-redis", "on": ["connect"],
    "match": {"family": "inet", "type": "stream", "protocol": "tcp", "port": 6379,
              "peer": "10.0.0.0/8", "local_port": "1024-65535", "argv0": "redis-*"},
    "when": {"nth": 2, "after": 1, "times": 1, "probability": 0.3, "from_ms": 10, "until_ms": 5000},
    "do": {"fail": "ECONNREFUSED"}},
   {"name": "dns", "on": "getaddrinfo", "match": {"host": "*.test"},
    "do": {"fail": "EAI_NONAME", "delay_ms": 250, "jitter_ms": 50}},
   {"name": "dns-errno", "on": "getaddrinfo", "do": {"fail": "ETIMEDOUT"}},
   {"name": "cut", "on": ["recv", "send"],
    "match": {"family": "inet6", "protocol": "tcp", "local": "::1", "peer_port": 5432, "role": "client",
              "path": "/run/*.sock"},
    "when": {"after_bytes": 65536, "after_connected_ms": 100, "count": "socket"},
    "do": {"reset": true}},
   {"name": "hang", "on": "connect", "do": {"hang_ms": 3000}},
   {"name": "short", "on": "recv", "do": {"short": 1}, "then": {"corrupt": 2}},
   {"name": "udp", "on": "send", "match": {"type": "dgram"}, "do": {"drop": true}},
   {"name": "dup", "on": "send", "match": {"protocol": "udp"}, "do": {"duplicate": true}},
   {"name": "flip", "on": "send", "match": {"family": 99}, "do": {"corrupt": 3}},
   {"name": "again", "on": "accept", "do": {"eagain": true}, "enabled": false},
   {"name": "intr", "on": "close", "do": {"eintr": true}},
   {"name": "opt", "on": "setsockopt", "match": {"option": "TCP_NODELAY"}, "then": {"fail": "EINVAL"}},
   {"name": "optn", "on": "getsockopt", "match": {"level": 1, "option": 4}, "do": {"fail": "EIO"}},
   {"name": "so", "on": "connect", "then": {"so_error": "ETIMEDOUT"}},
   {"name": "trunc", "on": "recv", "then": {"truncate": 10}}]})";

TEST_CASE("describe lists the seed and one line per rule, every key", "[filters][describe]") {
  CHECK(describe(load_table_text(kEveryKey, "r.json")) ==
        "seed 7, 15 rules\n"
        "refuse-redis  on connect  match family=inet type=stream protocol=tcp peer=10.0.0.0/8 "
        "port=6379 local_port=1024-65535 argv0=\"redis-*\"  when probability=0.3 nth=2 after=1 "
        "times=1 from_ms=10 until_ms=5000  do fail=ECONNREFUSED\n"
        "dns  on getaddrinfo  match host=\"*.test\"  do fail=EAI_NONAME delay_ms=250 jitter_ms=50\n"
        "dns-errno  on getaddrinfo  do fail=ETIMEDOUT\n"
        "cut  on send,recv  match family=inet6 protocol=tcp local=::1/128 peer_port=5432 path=\"/run/*.sock\" "
        "role=client  when after_bytes=65536 after_connected_ms=100 count=socket  do reset=true\n"
        "hang  on connect  do hang_ms=3000 fail=ETIMEDOUT\n"
        "short  on recv  do short=1  then corrupt=2\n"
        "udp  on send  match type=dgram  do drop=true\n"
        "dup  on send  match protocol=udp  do duplicate=true\n"
        "flip  on send  match family=99  do corrupt=3\n"
        "again  on accept  do eagain=true  enabled=false\n"
        "intr  on close  do eintr=true\n"
        "opt  on setsockopt  match level=IPPROTO_TCP option=TCP_NODELAY  then fail=EINVAL\n"
        "optn  on getsockopt  match level=SOL_SOCKET option=SO_ERROR  do fail=EIO\n"
        "so  on connect  then so_error=ETIMEDOUT\n"
        "trunc  on recv  then truncate=10\n");
}

TEST_CASE("describe counts one rule and no rules in words", "[filters][describe]") {
  CHECK(describe(load_table_text(R"({"rules": []})", "r.json")) == "seed 0, 0 rules\n");
  CHECK(describe(load_table_text(
            R"({"seed": 1, "rules": [{"name": "x", "on": "close", "do": {"fail": "EBADF"}}]})",
            "r.json")) == "seed 1, 1 rule\nx  on close  do fail=EBADF\n");
}

// ---- Reading describe() back into a rule file ----

// "k=v k=\"a b\" ..." -> {k: v, ...}. A value in quotes is a JSON string; true/false and numbers
// are JSON; anything else (names, ranges, CIDRs) is a string.
json read_pairs(const std::string& text) {
  json out = json::object();
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t eq = text.find('=', i);
    REQUIRE(eq != std::string::npos);
    const std::string key = text.substr(i, eq - i);
    std::size_t end = eq + 1;
    if (text[end] == '"') {
      for (++end; text[end] != '"'; ++end)
        if (text[end] == '\\') ++end;
      ++end;
    } else {
      end = text.find(' ', end);
      if (end == std::string::npos) end = text.size();
    }
    const std::string value = text.substr(eq + 1, end - eq - 1);
    const json parsed = json::parse(value, nullptr, false);
    out[key] = !parsed.is_discarded() && !parsed.is_object() && !parsed.is_array() ? parsed : json(value);
    i = end + 1;
  }
  return out;
}

// One describe() line -> one rule object.
json read_rule(const std::string& line) {
  json rule;
  std::size_t start = 0;
  bool first = true;
  while (start <= line.size()) {
    std::size_t end = line.find("  ", start);
    if (end == std::string::npos) end = line.size();
    const std::string part = line.substr(start, end - start);
    if (first) {
      rule["name"] = part;
      first = false;
    } else if (part.rfind("on ", 0) == 0) {
      json on = json::array();
      std::size_t s = 3;
      for (std::size_t c; (c = part.find(',', s)) != std::string::npos; s = c + 1) on.push_back(part.substr(s, c - s));
      on.push_back(part.substr(s));
      rule["on"] = on;
    } else if (part.rfind("enabled=", 0) == 0) {
      rule["enabled"] = part == "enabled=true";
    } else {
      const std::size_t sp = part.find(' ');
      rule[part.substr(0, sp)] = read_pairs(part.substr(sp + 1));
    }
    start = end + 2;
  }
  return rule;
}

json read_description(const std::string& text) {
  json doc;
  std::size_t start = text.find('\n') + 1;
  doc["seed"] = std::stoull(text.substr(5));
  doc["rules"] = json::array();
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
    doc["rules"].push_back(read_rule(text.substr(start, end - start)));
  return doc;
}

TEST_CASE("describe's output reads back into the same table", "[filters][describe]") {
  const std::string first = describe(load_table_text(kEveryKey, "r.json"));
  const json back = read_description(first);
  INFO("read back: " << back.dump());
  REQUIRE(back["rules"].size() == 15u);
  CHECK(back["rules"][0]["when"]["probability"] == 0.3);
  CHECK(back["rules"][3]["match"]["local"] == "::1/128");
  std::string second;
  try {
    second = describe(load_table_text(back.dump(), "back.json"));
  } catch (const LoadError& e) {
    FAIL(e.what());
  }
  CHECK(second == first);
}

}  // namespace
}  // namespace filters
